package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/internal/store/postgres"
)

// /livez answers while the process serves; /readyz (and /healthz, its old
// name) says 503 while the store or Redis cannot be reached, and 200 again
// when they are back.
func TestReadiness(t *testing.T) {
	dsn, db := imkittest.PostgresBehindProxy(t)
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := imkittest.StartRedis(t)
	var b [6]byte
	rand.Read(b[:])
	srv, err := server.New(server.Config{
		Store: st, Addr: "127.0.0.1:0",
		Redis: server.RedisConfig{Addr: r.Addr(), Prefix: "imkittest:" + hex.EncodeToString(b[:]) + ":"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	expect := func(path string, code int, says string) {
		t.Helper()
		imkittest.Eventually(t, path+" answers "+http.StatusText(code)+" saying "+says, func() bool {
			c, body := get(path)
			return c == code && strings.Contains(body, says)
		})
	}

	expect("/livez", http.StatusOK, "ok")
	expect("/readyz", http.StatusOK, "store: ok\nredis: ok")
	expect("/healthz", http.StatusOK, "redis: ok")

	r.Stop()
	expect("/readyz", http.StatusServiceUnavailable, "redis: unreachable")
	expect("/healthz", http.StatusServiceUnavailable, "redis: unreachable")
	expect("/livez", http.StatusOK, "ok")
	r.Start()
	expect("/readyz", http.StatusOK, "redis: ok")

	db.Offline()
	expect("/readyz", http.StatusServiceUnavailable, "store: unreachable")
	expect("/livez", http.StatusOK, "ok")
	db.Online()
	db.Reset()
	expect("/readyz", http.StatusOK, "store: ok\nredis: ok")
}
