package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit/usersig"
)

const (
	cliAppID = "1400000000"
	cliKey   = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
)

// runUserSigCLI runs the imkit command line in-process with the environment vars
// and stdin, and returns its exit status, stdout and stderr.
func runUserSigCLI(t *testing.T, vars map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return vars[k] },
	}
	code := Run(context.Background(), env, args)
	return code, stdout.String(), stderr.String()
}

// genUserSig signs a ticket with the CLI.
func genUserSig(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runUserSigCLI(t, nil, "", append([]string{"usersig", "gen"}, args...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("gen %v: exit %d, stderr %q", args, code, errOut)
	}
	ticket, ok := strings.CutSuffix(out, "\n")
	if !ok || ticket == "" || strings.ContainsAny(ticket, " \n") {
		t.Fatalf("gen printed %q, want a ticket and a newline", out)
	}
	return ticket
}

func TestUserSigGenVerify(t *testing.T) {
	ticket := genUserSig(t, "--sdkappid", cliAppID, "--key", cliKey, "--user", "xiaojun")

	tk, err := usersig.Verify(ticket, 1400000000, cliKey, "xiaojun", time.Now())
	if err != nil {
		t.Fatalf("the library refuses the CLI's ticket: %v", err)
	}
	if tk.Expire != 15552000 {
		t.Errorf("default expire = %d, want 15552000", tk.Expire)
	}

	code, out, errOut := runUserSigCLI(t, nil, "", "usersig", "verify", "--sdkappid", cliAppID, "--key", cliKey, "--user", "xiaojun", ticket)
	want := "ok expires " + tk.ExpiresAt().UTC().Format(time.RFC3339) + "\n"
	if code != 0 || out != want || errOut != "" {
		t.Errorf("verify: exit %d, stdout %q, stderr %q; want 0, %q", code, out, errOut, want)
	}
}

func TestUserSigVerifyFailures(t *testing.T) {
	ticket := genUserSig(t, "--sdkappid", cliAppID, "--key", cliKey, "--user", "xiaojun", "--expire", "60")
	tk, err := usersig.Decode(ticket)
	if err != nil {
		t.Fatal(err)
	}
	last := strconv.FormatInt(tk.Time+60, 10)
	after := strconv.FormatInt(tk.Time+61, 10)

	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string // prefix of stdout
	}{
		{"valid at the last second", []string{"--sdkappid", cliAppID, "--key", cliKey, "--user", "xiaojun", "--now", last, ticket}, "", 0, "ok expires "},
		{"expired", []string{"--sdkappid", cliAppID, "--key", cliKey, "--user", "xiaojun", "--now", after, ticket}, "", 1, "70001 "},
		{"wrong key", []string{"--sdkappid", cliAppID, "--key", "wrong", "--user", "xiaojun", ticket}, "", 1, "70009 "},
		{"other user", []string{"--sdkappid", cliAppID, "--key", cliKey, "--user", "other", ticket}, "", 1, "70013 "},
		{"other app", []string{"--sdkappid", "1400000001", "--key", cliKey, "--user", "xiaojun", ticket}, "", 1, "70014 "},
		{"garbage", []string{"--sdkappid", cliAppID, "--key", cliKey, "--user", "xiaojun", "garbage"}, "", 1, "70003 "},
		{"empty", []string{"--sdkappid", cliAppID, "--key", cliKey, "--user", "xiaojun", ""}, "", 1, "70002 "},
		{"from stdin", []string{"--sdkappid", cliAppID, "--key", cliKey, "--user", "xiaojun", "-"}, ticket + "\n", 0, "ok expires "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runUserSigCLI(t, nil, tc.stdin, append([]string{"usersig", "verify"}, tc.args...)...)
			if code != tc.code || !strings.HasPrefix(out, tc.out) || errOut != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q...", code, out, errOut, tc.code, tc.out)
			}
			if strings.Contains(out, cliKey) || strings.Contains(out, ticket) {
				t.Errorf("stdout %q shows the key or the ticket", out)
			}
		})
	}
}

func TestUserSigKeyFromEnv(t *testing.T) {
	vars := map[string]string{"IMKIT_KEY": cliKey}
	code, out, errOut := runUserSigCLI(t, vars, "", "usersig", "gen", "--sdkappid", cliAppID, "--user", "xiaojun")
	if code != 0 {
		t.Fatalf("gen: exit %d, stderr %q", code, errOut)
	}
	ticket := strings.TrimSpace(out)
	if _, err := usersig.Verify(ticket, 1400000000, cliKey, "xiaojun", time.Now()); err != nil {
		t.Fatalf("ticket signed with IMKIT_KEY: %v", err)
	}
	code, out, _ = runUserSigCLI(t, vars, "", "usersig", "verify", "--sdkappid", cliAppID, "--user", "xiaojun", ticket)
	if code != 0 || !strings.HasPrefix(out, "ok") {
		t.Errorf("verify with IMKIT_KEY: exit %d, stdout %q", code, out)
	}
	// --key wins over IMKIT_KEY.
	code, out, _ = runUserSigCLI(t, vars, "", "usersig", "verify", "--sdkappid", cliAppID, "--key", "wrong", "--user", "xiaojun", ticket)
	if code != 1 || !strings.HasPrefix(out, "70009 ") {
		t.Errorf("verify with --key wrong: exit %d, stdout %q", code, out)
	}
}

func TestUserSigUsage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string // substring of stderr
	}{
		{"no subcommand", []string{"usersig"}, 2, "usage"},
		{"unknown subcommand", []string{"usersig", "sign"}, 2, `unknown subcommand "sign"`},
		{"help", []string{"usersig", "help"}, 0, ""},
		{"gen -h", []string{"usersig", "gen", "-h"}, 0, "-sdkappid"},
		{"gen without flags", []string{"usersig", "gen"}, 2, "missing --sdkappid, --key (or IMKIT_KEY), --user"},
		{"gen without user", []string{"usersig", "gen", "--sdkappid", cliAppID, "--key", cliKey}, 2, "missing --user"},
		{"gen without key", []string{"usersig", "gen", "--sdkappid", cliAppID, "--user", "u"}, 2, "missing --key"},
		{"gen bad sdkappid", []string{"usersig", "gen", "--sdkappid", "app", "--key", cliKey, "--user", "u"}, 2, "-sdkappid"},
		{"gen negative expire", []string{"usersig", "gen", "--sdkappid", cliAppID, "--key", cliKey, "--user", "u", "--expire", "-1"}, 2, "negative"},
		{"gen extra argument", []string{"usersig", "gen", "--sdkappid", cliAppID, "--key", cliKey, "--user", "u", "x"}, 2, "unexpected argument"},
		{"verify without ticket", []string{"usersig", "verify", "--sdkappid", cliAppID, "--key", cliKey, "--user", "u"}, 2, "missing TICKET"},
		{"verify without app", []string{"usersig", "verify", "--key", cliKey, "--user", "u", "t"}, 2, "missing --sdkappid"},
		{"verify flags after ticket", []string{"usersig", "verify", "--sdkappid", cliAppID, "--key", cliKey, "--user", "u", "t", "--now", "5"}, 2, "flags go before TICKET"},
		{"verify bad now", []string{"usersig", "verify", "--sdkappid", cliAppID, "--key", cliKey, "--user", "u", "--now", "soon", "t"}, 2, "-now"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runUserSigCLI(t, nil, "", tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.stderr)
			}
			if strings.Contains(out+errOut, cliKey) {
				t.Errorf("output shows the key")
			}
			if tc.code == 2 && out != "" {
				t.Errorf("usage error printed %q on stdout", out)
			}
		})
	}
}
