package imkittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/postgres"
)

// RunCluster starts n nodes of one cluster, as operators run several: each
// its own server on 127.0.0.1, all on one PostgreSQL database (a fresh
// schema) and one Redis (a fresh key prefix), with the test app. When
// PostgreSQL or Redis is unreachable it skips the test, or fails it when
// IMKIT_REQUIRE_SERVICES=1.
func RunCluster(t testing.TB, n int, opts ...Option) []*Server {
	t.Helper()
	return RunClusterOn(t, n, PostgresDSN(t), RedisAddr(t), opts...)
}

// RunClusterOn is RunCluster on the PostgreSQL database of dsn (made by
// PostgresDSN, perhaps through a Proxy) and the Redis server at addr.
func RunClusterOn(t testing.TB, n int, dsn, addr string, opts ...Option) []*Server {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	prefix := "imkittest:" + hex.EncodeToString(b[:]) + ":"
	open := func() store.Store {
		st, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatalf("open PostgreSQL store: %v", err)
		}
		return st
	}
	st := open()
	err := st.CreateApp(context.Background(), store.App{SDKAppID: SDKAppID, Key: Key, Admin: Admin, Policy: imkit.DefaultPolicy, CreatedAt: time.Now()})
	st.Close()
	if err != nil {
		t.Fatalf("create test app: %v", err)
	}
	nodes := make([]*Server, n)
	for i := range nodes {
		s := &Server{t: t, Dir: t.TempDir(), open: open}
		s.cfg = server.Config{Addr: "127.0.0.1:0", Redis: server.RedisConfig{Addr: addr, Prefix: prefix}}
		for _, o := range opts {
			o(&s.cfg)
		}
		s.start(s.openStore())
		t.Cleanup(s.stop)
		nodes[i] = s
	}
	return nodes
}
