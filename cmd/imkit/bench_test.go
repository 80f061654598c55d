package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// runBenchCLI runs "imkit bench args..." in-process and returns its exit
// status and output.
func runBenchCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := Run(context.Background(), env, append([]string{"bench"}, args...))
	return code, stdout.String(), stderr.String()
}

func TestBenchLoginInProcess(t *testing.T) {
	code, out, errOut := runBenchCLI(t, "login", "--inprocess", "--clients", "4", "--users", "8",
		"--warmup", "100ms", "--duration", "200ms", "--rounds", "3")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if strings.Count(out, "  round:") != 3 || !strings.Contains(out, "login: median") || strings.Contains(out, "first error") {
		t.Errorf("output:\n%s", out)
	}
}

func TestBenchLoginKeep(t *testing.T) {
	code, out, errOut := runBenchCLI(t, "login", "--inprocess", "--keep", "--max-open", "20", "--clients", "4", "--users", "40",
		"--warmup", "-1s", "--duration", "2s", "--rounds", "1")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// The round ends once 20 are open; those under way then finish too.
	n := -1
	if m := regexp.MustCompile(`\((\d+) logins, 0 errors\)`).FindStringSubmatch(out); m != nil {
		n, _ = strconv.Atoi(m[1])
	}
	if n < 20 || n > 24 {
		t.Errorf("want 20..24 logins and no error:\n%s", out)
	}
}

func TestBenchMsgInProcess(t *testing.T) {
	code, out, errOut := runBenchCLI(t, "msg", "--inprocess", "--users", "10", "--rate", "200",
		"--warmup", "100ms", "--duration", "300ms", "--rounds", "1")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"msg saturation: median", "msg 200 msg/s: median", "every message acked and delivered"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "first error") {
		t.Errorf("errors:\n%s", out)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{{"nosuchmode"}, {"idle", "--inprocess"}, {"idle", "--server", "127.0.0.1:1"}} {
		if code, _, _ := runBenchCLI(t, args...); code == 0 {
			t.Errorf("bench %v: exit 0, want an error", args)
		}
	}
}

// TestBenchIdle builds the imkit binary and runs "imkit bench idle" with it:
// a server process and two client processes.
func TestBenchIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the imkit binary")
	}
	exe := filepath.Join(t.TempDir(), "imkit")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	code, out, errOut := runBenchCLI(t, "idle", "--imkit", exe, "--n", "60", "--per-process", "30",
		"--rounds", "1", "--settle", "100ms")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "60 sessions up") || !strings.Contains(out, "KB of server RSS per idle session") {
		t.Errorf("output:\n%s", out)
	}
}
