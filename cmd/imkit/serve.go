package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/internal/session"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/postgres"
	"github.com/imkit/imkit/internal/store/sqlite"
)

func init() {
	register("serve", "run the server", runServe)
}

// Main is the server program: Run opens the store, creates the default app
// on first start and starts serving; Close stops. Tests run it in-process.
type Main struct {
	// DataDir holds the SQLite database (imkit.db); unused with Postgres.
	DataDir string
	// Postgres, when set, is the DSN of the PostgreSQL database that the
	// nodes share, used instead of SQLite. It may hold a password: it is
	// never printed.
	Postgres string
	// Sync is SQLite's synchronous mode: "NORMAL" or "FULL".
	Sync string
	// Config is the server's configuration; Store is set by Run.
	Config server.Config
	// Out receives the start-up banner (the default app's credentials).
	Out io.Writer

	Store  store.Store
	Server *server.Server
}

// Run starts the server and returns once it is serving.
func (m *Main) Run(ctx context.Context) error {
	if m.Postgres == "" {
		if err := os.MkdirAll(m.DataDir, dataDirMode); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	st, err := openDB(ctx, m.Postgres, m.DataDir, m.Sync, m.Config.Logger)
	if err != nil {
		return err
	}
	m.Store = st
	if err := m.ensureApp(ctx); err != nil {
		st.Close()
		return err
	}
	m.Config.Store = st
	srv, err := server.New(m.Config)
	if err != nil {
		st.Close()
		return err
	}
	if err := srv.Start(); err != nil {
		st.Close()
		return err
	}
	m.Server = srv
	addr := srv.Addr()
	fmt.Fprintf(m.Out, "imkit: listening on %s\n", addr)
	fmt.Fprintf(m.Out, "  SDK (WebSocket): ws://%s/ws\n  browser SDK:     http://%s/sdk/imkit-chat.js\n  REST API:        http://%s/v4/\n", addr, addr, addr)
	if m.Postgres != "" {
		fmt.Fprintf(m.Out, "  data:            PostgreSQL\n")
		if m.Config.Redis.Addr != "" {
			fmt.Fprintf(m.Out, "  cluster:         Redis %s (node %s)\n", m.Config.Redis.Addr, srv.Cluster.Node())
		}
	} else {
		fmt.Fprintf(m.Out, "  data:            %s (SQLite)\n", m.DataDir)
	}
	return nil
}

// Close shuts the server down (clients are told to reconnect) and closes
// the store.
func (m *Main) Close() error {
	var err error
	if m.Server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = m.Server.Shutdown(ctx)
		cancel()
	}
	if m.Store != nil {
		if cerr := m.Store.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// ensureApp creates the default app when there is none, and prints the
// apps.
func (m *Main) ensureApp(ctx context.Context) error {
	apps, err := m.Store.Apps(ctx)
	if err != nil {
		return fmt.Errorf("list apps: %w", err)
	}
	if len(apps) == 0 {
		a, err := newApp(0, "", "administrator")
		if err != nil {
			return err
		}
		if err := m.Store.CreateApp(ctx, a); err != nil {
			return fmt.Errorf("create default app: %w", err)
		}
		fmt.Fprintf(m.Out, "imkit: created the default app (keep the secret key secret; it signs UserSigs)\n")
		printApp(m.Out, a, true)
		return nil
	}
	for _, a := range apps {
		printApp(m.Out, a, false)
	}
	if m.Postgres != "" {
		fmt.Fprintf(m.Out, "  (secret keys: imkit app list --show-keys, with IMKIT_POSTGRES set)\n")
	} else {
		fmt.Fprintf(m.Out, "  (secret keys: imkit app list --data %s --show-keys)\n", m.DataDir)
	}
	return nil
}

func printApp(w io.Writer, a store.App, showKey bool) {
	fmt.Fprintf(w, "  SDKAppID:        %d\n", a.SDKAppID)
	if showKey {
		fmt.Fprintf(w, "  secret key:      %s\n", a.Key)
	}
	fmt.Fprintf(w, "  admin:           %s\n", a.Admin)
	fmt.Fprintf(w, "  login policy:    %s\n", a.Policy)
}

// newApp returns an app; a zero sdkAppID or an empty key picks a random one
// (SDKAppIDs in Tencent's range 1400000000..1499999999, keys of 64 hex
// digits like Tencent's).
func newApp(sdkAppID uint64, key, admin string) (store.App, error) {
	if sdkAppID == 0 {
		n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
		if err != nil {
			return store.App{}, err
		}
		sdkAppID = 1_400_000_000 + n.Uint64()
	}
	if key == "" {
		var b [32]byte
		rand.Read(b[:])
		key = hex.EncodeToString(b[:])
	}
	if admin == "" {
		admin = "administrator"
	}
	if err := imkit.ValidateUserID(admin); err != nil {
		return store.App{}, fmt.Errorf("admin: %s", imkit.ErrorMessage(err))
	}
	return store.App{SDKAppID: sdkAppID, Key: key, Admin: admin, Policy: imkit.DefaultPolicy, CreatedAt: time.Now()}, nil
}

func openStore(ctx context.Context, dir, sync string) (store.Store, error) {
	return openStoreLog(ctx, dir, sync, nil)
}

// openStoreLog is openStore with a logger for the warnings about the data
// directory's permissions (nil: the default logger).
func openStoreLog(ctx context.Context, dir, sync string, log *slog.Logger) (store.Store, error) {
	if err := prepareDataDir(dir, log); err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "imkit.db"), sqlite.Options{Synchronous: sync})
	if err != nil {
		return nil, fmt.Errorf("open database in %s: %w", dir, err)
	}
	return st, nil
}

// openDB opens the PostgreSQL database at dsn when it is set, else the
// SQLite database in dir.
func openDB(ctx context.Context, dsn, dir, sync string, log *slog.Logger) (store.Store, error) {
	if dsn == "" {
		return openStoreLog(ctx, dir, sync, log)
	}
	st, err := postgres.Open(ctx, dsn, postgres.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open the PostgreSQL database: %w", err)
	}
	return st, nil
}

// postgresFlag defines --postgres on fs; postgresDSN returns its value or,
// when it is empty, $IMKIT_POSTGRES. The environment is the better place
// for a DSN with a password: other users of the machine see command lines.
func postgresFlag(fs *flag.FlagSet) *string {
	return fs.String("postgres", "", "PostgreSQL `DSN` shared by the nodes, instead of SQLite in --data (env IMKIT_POSTGRES, better for a password)")
}

func postgresDSN(env *Env, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return env.Getenv("IMKIT_POSTGRES")
}

const serveUsage = `usage: imkit serve [flags]

Runs the imkit server on an embedded SQLite database in --data, or on the
PostgreSQL database of --postgres (or $IMKIT_POSTGRES) that several imkit
nodes share; with --redis those nodes reach each other's clients (kicks,
messages, online state). On the first start it creates a default app and prints its
SDKAppID, secret key and admin identifier. SIGINT or SIGTERM shut it down
gracefully: clients are told to reconnect, accepted messages are stored.

flags:
`

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve")
	fs.Usage = func() { fmt.Fprint(env.Stderr, serveUsage); fs.PrintDefaults() }
	m := &Main{Out: env.Stdout}
	fs.StringVar(&m.DataDir, "data", envOr(env, "IMKIT_DATA", "imkit-data"), "data `directory` (env IMKIT_DATA)")
	pg := postgresFlag(fs)
	fs.StringVar(&m.Config.Addr, "addr", envOr(env, "IMKIT_ADDR", "127.0.0.1:8080"), "listen `address` host:port (env IMKIT_ADDR)")
	fs.StringVar(&m.Sync, "sync", "normal", "SQLite durability: normal (survives a crash of the process) or full (also a power loss)")
	fs.DurationVar(&m.Config.Heartbeat, "heartbeat", 30*time.Second, "interval at which clients ping; silent links close after 3")
	fs.DurationVar(&m.Config.ExpiryLead, "expiry-lead", 5*time.Minute, "how long before a ticket expires clients are asked to renew it")
	fs.IntVar(&m.Config.MaxConnsPerAddr, "max-conns-per-ip", 256, "connections one client address may hold open (loopback and --trusted-proxies aside); more are closed at once; negative: no limit")
	fs.DurationVar(&m.Config.ReadTimeout, "read-timeout", 30*time.Second, "the longest a REST request (headers and body) may take to arrive")
	fs.DurationVar(&m.Config.MaxTicketLifetime, "max-ticket-life", session.DefaultMaxTicketLifetime, "the longest lifetime (TLS.expire) a ticket may have; longer ones are refused (70003); negative: no cap")
	fs.DurationVar(&m.Config.ClockSkew, "clock-skew", session.DefaultClockSkew, "how far in the future a ticket's signing time (TLS.time) may be; later ones are refused (70003); negative: no check")
	fs.Float64Var(&m.Config.RequestRate, "request-rate", 100, "requests a second one client connection may make (ping, renew and logout aside); more get 7008; negative: no limit")
	fs.IntVar(&m.Config.RequestBurst, "request-burst", 300, "requests one client connection may make at once")
	fs.StringVar(&m.Config.Redis.Addr, "redis", envOr(env, "IMKIT_REDIS", ""), "Redis `address` host:port that joins several nodes on one PostgreSQL (env IMKIT_REDIS; password in IMKIT_REDIS_PASSWORD)")
	fs.StringVar(&m.Config.Redis.Prefix, "redis-prefix", "imkit:", "prefix of the Redis keys and channels; the nodes of one cluster share it")
	proxies := fs.String("trusted-proxies", envOr(env, "IMKIT_TRUSTED_PROXIES", ""), "comma-separated `networks` (CIDR, or single addresses) of the load balancers in front of the server, whose X-Forwarded-For gives the clients' addresses (env IMKIT_TRUSTED_PROXIES)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if m.Config.TrustedProxies, err = parsePrefixes(*proxies); err != nil {
		fmt.Fprintf(env.Stderr, "imkit serve: --trusted-proxies: %v\n", err)
		return exitError{2}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "imkit serve: unexpected argument %q\n", fs.Arg(0))
		return exitError{2}
	}
	m.Postgres = postgresDSN(env, *pg)
	m.Config.Redis.Password = env.Getenv("IMKIT_REDIS_PASSWORD")
	if m.Config.Redis.Addr != "" && m.Postgres == "" {
		fmt.Fprintln(env.Stderr, "imkit serve: --redis joins nodes that share a PostgreSQL database: give --postgres too")
		return exitError{2}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(env.Stderr, "imkit serve: bad -log-level %q\n", *logLevel)
		return exitError{2}
	}
	switch strings.ToUpper(m.Sync) {
	case "NORMAL", "FULL":
	default:
		fmt.Fprintf(env.Stderr, "imkit serve: -sync must be normal or full\n")
		return exitError{2}
	}
	m.Config.Logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-m.Server.Done():
		m.Close()
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	}
	fmt.Fprintln(env.Stdout, "imkit: shutting down")
	return m.Close()
}

// parsePrefixes parses comma-separated networks; a single address is a
// network of one.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a network (10.0.0.0/8) nor an address", f)
		}
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return out, nil
}

func envOr(env *Env, name, def string) string {
	if v := env.Getenv(name); v != "" {
		return v
	}
	return def
}
