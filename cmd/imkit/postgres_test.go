package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/sdk"
	"github.com/imkit/imkit/usersig"
)

// TestPostgres creates an app in PostgreSQL (the DSN from the environment),
// lists it (the DSN from the flag), serves it, and logs a client in.
func TestPostgres(t *testing.T) {
	dsn := imkittest.PostgresDSN(t)
	const key = "0123456789abcdef"
	vars := map[string]string{"IMKIT_POSTGRES": dsn}
	if code, out, errOut := runCLI(t, vars, "app", "create", "--sdkappid", "1400000077", "--key", key); code != 0 {
		t.Fatalf("app create: exit %d; stdout %q stderr %q", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, vars, "app", "create", "--sdkappid", "1400000077"); code != 1 || !strings.Contains(errOut, "already exists in the PostgreSQL database") {
		t.Errorf("app create again: exit %d, stderr %q; want 1, already exists", code, errOut)
	}
	code, out, errOut := runCLI(t, nil, "app", "list", "--postgres", dsn, "--show-keys")
	if code != 0 || !strings.Contains(out, "1400000077") || !strings.Contains(out, key) {
		t.Fatalf("app list: exit %d; stdout %q stderr %q; want the app and its key", code, out, errOut)
	}

	var banner bytes.Buffer
	m := &Main{Postgres: dsn, DataDir: "/nonexistent/never-created", Config: server.Config{Addr: "127.0.0.1:0"}, Out: &banner}
	if err := m.Run(t.Context()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	defer m.Close()
	if b := banner.String(); !strings.Contains(b, "PostgreSQL") || strings.Contains(b, dsn) || strings.Contains(b, "/nonexistent") {
		t.Errorf("banner %q: want PostgreSQL named, neither the DSN nor the data directory", b)
	}

	c, err := sdk.New(1400000077, sdk.Config{ServerURL: "http://" + m.Server.Addr(), Platform: imkit.PlatformWeb})
	if err != nil {
		t.Fatal(err)
	}
	defer c.UnInit()
	sig, err := usersig.Sign(1400000077, key, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Login(ctx, "alice", sig); err != nil {
		t.Fatal(err)
	}
	ss, err := m.Store.ActiveSessions(ctx, 1400000077, []string{"alice"})
	if err != nil || len(ss) != 1 {
		t.Errorf("ActiveSessions(alice) in PostgreSQL = %v, %v; want one", ss, err)
	}
}
