package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/sdk"
)

// runCLI runs the imkit command line in-process and returns its exit
// status, stdout and stderr.
func runCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vars[k] }}
	code := Run(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

// adminFlags are the flags that reach the test server as its admin.
func adminFlags(srv *imkittest.Server) []string {
	return []string{"--server", srv.URL, "--sdkappid", fmt.Sprint(imkittest.SDKAppID), "--key", imkittest.Key}
}

func TestUserCommands(t *testing.T) {
	srv := imkittest.RunServer(t)
	run := func(want int, args ...string) string {
		t.Helper()
		args = append(args[:2:2], append(adminFlags(srv), args[2:]...)...)
		code, out, errOut := runCLI(t, nil, args...)
		if code != want {
			t.Fatalf("imkit %v: exit %d, want %d; stdout %q stderr %q", args, code, want, out, errOut)
		}
		return out + errOut
	}
	if out := run(0, "user", "import", "--nick", "Alice", "alice"); out != "imported alice\n" {
		t.Errorf("import alice: %q", out)
	}
	if out := run(1, "user", "import", "bob", "bad id", "carol"); out != "imported bob\nimported carol\nimkit user: not imported: bad id\n" {
		t.Errorf("import bob, bad id, carol: %q", out)
	}
	if out := run(0, "user", "check", "alice", "dave"); out != "alice\tImported\ndave\tNotImported\n" {
		t.Errorf("check: %q", out)
	}

	c, err := sdk.New(imkittest.SDKAppID, sdk.Config{ServerURL: srv.URL, Platform: imkit.PlatformWeb})
	if err != nil {
		t.Fatal(err)
	}
	defer c.UnInit()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Login(ctx, "alice", srv.Sign("alice")); err != nil {
		t.Fatal(err)
	}
	if out := run(0, "user", "state", "alice", "bob", "nobody"); out != "alice\tOnline\tWeb\nbob\tOffline\t\nnobody\tno such account (70107)\n" {
		t.Errorf("state: %q", out)
	}
	if out := run(0, "user", "kick", "alice"); out != "kicked alice\n" {
		t.Errorf("kick: %q", out)
	}
	if out := run(1, "user", "kick", "nobody"); !strings.Contains(out, "code 70107") {
		t.Errorf("kick nobody: %q, want code 70107", out)
	}

	// Usage errors exit with 2.
	for _, args := range [][]string{
		{"user"},
		{"user", "nothing"},
		{"user", "check", "--server", srv.URL, "--sdkappid", "1400000001", "--key", imkittest.Key},
		{"user", "check", "--server", srv.URL, "--key", imkittest.Key, "alice"},
		{"user", "check", "--server", srv.URL, "--sdkappid", "1400000001", "alice"},
		{"user", "check", "--bogus", "alice"},
		{"user", "import", "--server", srv.URL, "--sdkappid", "1400000001", "--key", "k", "--nick", "x", "a", "b"},
		{"user", "check", "--server", "ftp://x", "--sdkappid", "1400000001", "--key", "k", "a"},
	} {
		if code, out, errOut := runCLI(t, nil, args...); code != 2 {
			t.Errorf("imkit %v: exit %d, want 2 (%q %q)", args, code, out, errOut)
		}
	}

	// The key from the environment, or everything from the data directory.
	if code, out, errOut := runCLI(t, map[string]string{"IMKIT_KEY": imkittest.Key, "IMKIT_SERVER": srv.URL, "IMKIT_SDKAPPID": "1400000001"},
		"user", "check", "alice"); code != 0 || out != "alice\tImported\n" {
		t.Errorf("with IMKIT_KEY: exit %d %q %q", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, nil, "user", "check", "--server", srv.URL, "--data", srv.Dir, "alice"); code != 0 || out != "alice\tImported\n" {
		t.Errorf("with --data: exit %d %q %q", code, out, errOut)
	}
	// A wrong key is an API error: exit 1 with the code.
	if code, _, errOut := runCLI(t, nil, "user", "check", "--server", srv.URL, "--sdkappid", "1400000001", "--key", strings.Repeat("0", 64), "alice"); code != 1 || !strings.Contains(errOut, "code 70009") {
		t.Errorf("wrong key: exit %d %q, want 1 and code 70009", code, errOut)
	}
}

func TestStatsCommand(t *testing.T) {
	srv := imkittest.RunServer(t)
	args := append([]string{"stats"}, adminFlags(srv)...)
	code, out, errOut := runCLI(t, nil, append(args, "--days", "2")...)
	if code != 0 {
		t.Fatalf("stats: exit %d %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 6 || !strings.Contains(lines[0], "DAU") || !strings.Contains(lines[1], time.Now().UTC().Format("20060102")[:6]) ||
		!strings.Contains(out, "MAU") {
		t.Errorf("stats output:\n%s", out)
	}
	if code, _, _ := runCLI(t, nil, append(args, "--days", "31")...); code != 2 {
		t.Errorf("--days 31: exit %d, want 2", code)
	}
}

func TestAppPolicyCommand(t *testing.T) {
	srv := imkittest.RunServer(t)
	run := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, nil, append(append([]string{"app", "policy"}, adminFlags(srv)...), args...)...)
		if code != want {
			t.Fatalf("app policy %v: exit %d, want %d (%q %q)", args, code, want, out, errOut)
		}
		return out + errOut
	}
	want := "login policy:  dual\nmax instances: Android=1 iPhone=1 iPad=1 Windows=1 Mac=1 Linux=1 Web=1\nwebhook:       (none)\n"
	if out := run(0); out != want {
		t.Errorf("app policy:\n%s\nwant:\n%s", out, want)
	}
	want = "login policy:  multi\nmax instances: Android=2 iPhone=1 iPad=1 Windows=1 Mac=1 Linux=1 Web=10\nwebhook:       http://127.0.0.1:1/hook\n"
	if out := run(0, "--policy", "multi", "--max", "Web=10,android=2", "--webhook", "http://127.0.0.1:1/hook"); out != want {
		t.Errorf("app policy set:\n%s\nwant:\n%s", out, want)
	}
	if out := run(1, "--max", "Web=11"); !strings.Contains(out, "code 70402") {
		t.Errorf("Web=11: %q, want code 70402", out)
	}
	run(2, "--policy", "quad")
	run(2, "--max", "Symbian=1")
	run(2, "--max", "Web")
	run(2, "--webhook", "http://x", "--no-webhook")
	if out := run(0, "--no-webhook"); !strings.Contains(out, "webhook:       (none)") {
		t.Errorf("--no-webhook: %q", out)
	}
}
