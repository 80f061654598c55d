package imkittest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The services that tests of several nodes use, and how to find them.
const (
	// PostgresEnv names the DSN of a PostgreSQL database that tests may
	// create schemas in; DefaultPostgres is used when it is not set.
	PostgresEnv     = "IMKIT_TEST_POSTGRES"
	DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	// RedisEnv names the host:port of a Redis server tests may use;
	// DefaultRedis is used when it is not set.
	RedisEnv     = "IMKIT_TEST_REDIS"
	DefaultRedis = "127.0.0.1:6379"
	// RequireEnv, set to 1 (as CI does), makes a test whose service is
	// unreachable fail rather than skip.
	RequireEnv = "IMKIT_REQUIRE_SERVICES"
)

// PostgresDSN returns the DSN of a new, empty schema of the test
// PostgreSQL database, made the first of the search_path (so an imkit store
// opened on it creates its tables there), and drops the schema with all in
// it when the test ends. When PostgreSQL is unreachable it skips the test,
// or fails it when IMKIT_REQUIRE_SERVICES=1.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := serviceEnv(PostgresEnv, DefaultPostgres)
	if err := postgresDown.get(); err != nil {
		unavailable(t, "PostgreSQL", "$"+PostgresEnv, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		postgresDown.set(err)
		unavailable(t, "PostgreSQL", "$"+PostgresEnv, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "imkit_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("PostgreSQL: create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("PostgreSQL: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("PostgreSQL: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema)
}

// withSearchPath returns dsn (a URL or key=value string) with search_path
// set to schema, a run-time parameter pgx sends at connection start.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema
}

// RedisAddr returns the host:port of the test Redis server, after checking
// that it answers PING. When it does not, it skips the test, or fails it
// when IMKIT_REQUIRE_SERVICES=1. Tests share the server: use keys of your
// own (or FLUSHDB only in a database of your own).
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := serviceEnv(RedisEnv, DefaultRedis)
	err := redisDown.get()
	if err == nil {
		err = pingRedis(addr)
		redisDown.set(err)
	}
	if err != nil {
		unavailable(t, "Redis", "$"+RedisEnv, err)
	}
	return addr
}

// pingRedis sends PING to the Redis server at addr and reads its answer.
func pingRedis(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// postgresDown and redisDown remember that a service was found
// unreachable, so that the tests after the first skip at once rather than
// wait for their own timeouts.
var postgresDown, redisDown downError

type downError struct {
	mu  sync.Mutex
	err error // guarded by mu
}

func (d *downError) get() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

func (d *downError) set(err error) {
	if err == nil {
		return
	}
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
}

// unavailable skips the test, or fails it when services are required.
func unavailable(t testing.TB, service, where string, err error) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s) is unreachable and %s=1: %v", service, where, RequireEnv, err)
	}
	t.Skipf("%s (%s) is unreachable: %v (set %s=1 to fail instead)", service, where, err, RequireEnv)
}

func serviceEnv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// PostgresBehindProxy returns a DSN of a new schema, as PostgresDSN does,
// that reaches PostgreSQL through a Proxy of its own, and the proxy: a test
// cuts it off (Offline, Reset) to see the server lose its database, as in a
// PostgreSQL restart. It skips the test when the DSN is not a URL.
func PostgresBehindProxy(t testing.TB) (string, *Proxy) {
	t.Helper()
	u, err := url.Parse(PostgresDSN(t))
	if err != nil || u.Host == "" {
		t.Skipf("the PostgreSQL DSN is not a URL with a host: %v", err)
	}
	p := NewProxy(t, u.Host)
	u.Host = p.Addr()
	return u.String(), p
}
