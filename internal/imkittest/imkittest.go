// Package imkittest starts real imkit servers for tests: RunServer gives a
// server on 127.0.0.1 with a fresh SQLite database in a temporary directory
// and a known app, and helpers to sign tickets, restart the server on the
// same data and wait for events.
package imkittest

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlite"
	"github.com/imkit/imkit/usersig"
)

// The test app.
const (
	SDKAppID = 1400000001
	Key      = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
	Admin    = "administrator"
)

// Server is a running test server.
type Server struct {
	*server.Server
	// URL is the server's base URL, http://127.0.0.1:port.
	URL string
	// Dir is the data directory.
	Dir string

	t    testing.TB
	cfg  server.Config
	open func() store.Store // nil: SQLite in Dir
	mu   sync.Mutex
	addr string
}

// Option changes the server's configuration.
type Option func(*server.Config)

// WithConfig applies f to the server's configuration.
func WithConfig(f func(*server.Config)) Option { return Option(f) }

// NoRequestLimit lifts the limit on the requests of a client connection,
// for tests and benchmarks that send as fast as they can.
func NoRequestLimit() Option {
	return WithConfig(func(c *server.Config) { c.RequestRate = -1 })
}

// RunServer starts a server for the test on 127.0.0.1:0 with a new data
// directory and the test app, and stops it when the test ends.
func RunServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, Dir: t.TempDir()}
	s.cfg = server.Config{Addr: "127.0.0.1:0"}
	for _, o := range opts {
		o(&s.cfg)
	}
	st := s.openStore()
	ctx := context.Background()
	if err := st.CreateApp(ctx, store.App{SDKAppID: SDKAppID, Key: Key, Admin: Admin, Policy: imkit.DefaultPolicy, CreatedAt: time.Now()}); err != nil {
		t.Fatalf("create test app: %v", err)
	}
	s.start(st)
	t.Cleanup(s.stop)
	return s
}

func (s *Server) openStore() store.Store {
	s.t.Helper()
	if s.open != nil {
		return s.open()
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(s.Dir, "imkit.db"), sqlite.Options{})
	if err != nil {
		s.t.Fatalf("open store: %v", err)
	}
	return st
}

// startOnPort starts srv, trying again for a while when its port is
// still taken: a restarted server's port may take a moment to be free.
func startOnPort(srv *server.Server) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := srv.Start()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) start(st store.Store) {
	s.t.Helper()
	cfg := s.cfg
	cfg.Store = st
	if s.addr != "" {
		cfg.Addr = s.addr
	}
	srv, err := server.New(cfg)
	if err != nil {
		s.t.Fatalf("new server: %v", err)
	}
	err = startOnPort(srv)
	if err != nil {
		s.t.Fatalf("start server: %v", err)
	}
	s.mu.Lock()
	s.Server = srv
	s.addr = srv.Addr()
	s.URL = "http://" + s.addr
	s.mu.Unlock()
}

func (s *Server) stop() {
	s.mu.Lock()
	srv := s.Server
	s.Server = nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	srv.Store.Close()
}

// Restart stops the server (its clients see "server shutting down") and
// starts a new one on the same address and data directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.stop()
	s.start(s.openStore())
}

// Stop stops the server without starting another; Start starts it again.
func (s *Server) Stop() { s.stop() }

// Start starts a stopped server again on the same address and data.
func (s *Server) Start() {
	s.t.Helper()
	s.start(s.openStore())
}

// Addr returns host:port.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Target is the server as the wire-level clients of package bench (no
// SDK) address it: for tests that watch or send raw frames.
func (s *Server) Target() bench.Target {
	return bench.Target{URL: bench.WSURL(s.Addr()), SDKAppID: SDKAppID, Key: Key}
}

// Sign returns a ticket for user in the test app, valid for a day.
func (s *Server) Sign(user string) string {
	return SignFor(s.t, user, 24*time.Hour)
}

// SignFor returns a ticket for user in the test app valid for d.
func SignFor(t testing.TB, user string, d time.Duration) string {
	t.Helper()
	sig, err := usersig.Sign(SDKAppID, Key, user, d)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return sig
}

// SignAt returns a ticket for user signed at a given time.
func SignAt(t testing.TB, user string, at time.Time, d time.Duration) string {
	t.Helper()
	sig, err := usersig.SignTicket(Key, usersig.Ticket{SDKAppID: SDKAppID, Identifier: user, Time: at.Unix(), Expire: int64(d / time.Second)})
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return sig
}

// FreeAddr returns a free loopback address.
func FreeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
