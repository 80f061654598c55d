package imkittest

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RedisServer is a redis-server of the test's own, on a free loopback
// port, without persistence, for tests that freeze, stop or restart it
// (never do that to the shared one of RedisAddr). It is killed when the
// test ends. RunClusterOn(t, n, PostgresDSN(t), r.Addr()) starts nodes on
// it.
type RedisServer struct {
	t    testing.TB
	bin  string
	addr string
	mu   sync.Mutex // guards cmd, frozen
	cmd  *exec.Cmd  // nil while stopped
	// frozen: stopped with SIGSTOP
	frozen bool
}

// StartRedis starts a redis-server for the test. When there is no
// redis-server binary it skips the test, or fails it when
// IMKIT_REQUIRE_SERVICES=1.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server", "$PATH", err)
	}
	r := &RedisServer{t: t, bin: bin, addr: FreeAddr(t)}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Addr returns the server's host:port.
func (r *RedisServer) Addr() string { return r.addr }

// Start starts the server, empty, and waits until it answers PING.
func (r *RedisServer) Start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		cmd := exec.Command(r.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--loglevel", "warning")
		// Its log is noise in the test output; a failure to start shows in
		// the exit error.
		if err := cmd.Start(); err != nil {
			r.t.Fatalf("start redis-server: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		err := waitRedis(r.addr, exited, deadline)
		if err == nil {
			r.mu.Lock()
			r.cmd, r.frozen = cmd, false
			r.mu.Unlock()
			return
		}
		cmd.Process.Kill()
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s: %v", r.addr, err)
		}
		// It exited: the port was not free yet, most likely.
	}
}

// waitRedis waits until the server at addr answers PING, it exits, or the
// deadline.
func waitRedis(addr string, exited <-chan error, deadline time.Time) error {
	for {
		if pingRedis(addr) == nil {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("does not answer")
		}
	}
}

// Freeze stops the server with SIGSTOP: connections stay open and nothing
// answers.
func (r *RedisServer) Freeze() { r.signal(syscall.SIGSTOP, true) }

// Thaw lets a frozen server go on (SIGCONT).
func (r *RedisServer) Thaw() { r.signal(syscall.SIGCONT, false) }

func (r *RedisServer) signal(sig syscall.Signal, frozen bool) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		r.t.Fatal("redis-server is not running")
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("signal redis-server: %v", err)
	}
	r.frozen = frozen
}

// Stop kills the server (SIGKILL: it loses everything, as it runs
// without persistence).
func (r *RedisServer) Stop() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	// Wait for the port to be closed: a Start after Stop takes it again.
	deadline := time.Now().Add(10 * time.Second)
	for pingRedis(r.addr) == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// Restart kills the server and starts an empty one on the same port.
func (r *RedisServer) Restart() {
	r.t.Helper()
	r.Stop()
	r.Start()
}
