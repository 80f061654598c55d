package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// RSS returns the resident memory of process pid in bytes, from VmRSS in
// /proc/<pid>/status (Linux only).
func RSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS of %d: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmRSS for process %d", pid)
}

// LoadAvg returns the system's 1-minute load average, or -1.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		return -1
	}
	return f
}

// CPUTime returns the CPU time (user and system) process pid has used, from
// /proc/<pid>/stat, at the kernel's clock tick resolution (10ms); 0 for pid
// 0 or on failure.
func CPUTime(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(utime+stime) * tick
}

// RunQueueWait returns how long the threads of process pid have waited,
// runnable, for a CPU, from /proc/<pid>/task/*/schedstat: on a shared
// machine, the time other work took from it. 0 on failure.
func RunQueueWait(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			sum += n
		}
	}
	return time.Duration(sum)
}

// cpuMeter measures the CPU time of the server's process and of this one
// over an interval, and how long the server waited for a CPU.
type cpuMeter struct {
	server                int
	server0, self0, wait0 time.Duration
}

func startCPU(serverPID int) cpuMeter {
	if serverPID == os.Getpid() {
		serverPID = 0
	}
	return cpuMeter{server: serverPID, server0: CPUTime(serverPID), self0: CPUTime(os.Getpid()), wait0: RunQueueWait(serverPID)}
}

// stop returns the CPU time used since start by the server (0 when its
// process is unknown or is this one) and by this process, and the time the
// server's threads waited for a CPU (a thread that exited meanwhile no
// longer counts: a rough figure).
func (m cpuMeter) stop() (server, self, wait time.Duration) {
	self = CPUTime(os.Getpid()) - m.self0
	if m.server != 0 {
		server = CPUTime(m.server) - m.server0
		wait = max(RunQueueWait(m.server)-m.wait0, 0)
	}
	return server, self, wait
}

// perOp divides a duration by a count.
func perOp(d time.Duration, n int64) time.Duration {
	if n <= 0 {
		return 0
	}
	return d / time.Duration(n)
}
