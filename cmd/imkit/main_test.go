package main

import (
	"context"
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
