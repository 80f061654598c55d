package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets a test run this program as a child process: with
// IMKIT_TEST_MAIN=1 the test binary runs Run with the arguments in
// IMKIT_TEST_ARGS (separated by the unit separator \x1f) instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("IMKIT_TEST_MAIN") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
		code := Run(ctx, env, strings.Split(os.Getenv("IMKIT_TEST_ARGS"), "\x1f"))
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func TestParsePrefixes(t *testing.T) {
	got, err := parsePrefixes(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,, 10.1.2.3/16")
	if err != nil {
		t.Fatal(err)
	}
	want := "[10.0.0.0/8 192.168.1.7/32 fd00::/8 10.1.0.0/16]"
	if fmt.Sprint(got) != want {
		t.Errorf("parsePrefixes = %v, want %s", got, want)
	}
	if p, err := parsePrefixes(""); err != nil || len(p) != 0 {
		t.Errorf("parsePrefixes(\"\") = %v, %v; want none", p, err)
	}
	if _, err := parsePrefixes("10.0.0.0/8,lb.internal"); err == nil {
		t.Error("parsePrefixes with a host name: no error")
	}
}
