// Package postgres is the storage engine for several imkit nodes: a
// store.Store in one PostgreSQL database that the nodes share, through
// github.com/jackc/pgx/v5 (pgxpool, no database/sql).
//
// # Locking
//
// Transactions run at READ COMMITTED, and serialise on row locks where it
// matters. The users row of a user is the lock of what is the user's alone:
// Login locks it (creating the account first when missing) before it reads
// the user's active sessions and calls Decide, so that N concurrent logins
// of one user, through any connections of any nodes, leave exactly what the
// policy allows; KickUser and DeleteUser take it too. AppendMessages locks
// the users rows of every user of its batch, in one statement, sorted by
// user ID (as every transaction that locks several does, so that two
// batches can't deadlock), and only then reads the newest seq of each
// mailbox and conversation, allocates the next ones, and writes. A
// conversation's seq is safe under the locks of its two users. Each
// statement of a READ COMMITTED transaction reads a new snapshot: what a
// transaction reads after taking a lock includes all that the lock's
// previous holder committed.
//
// Daily statistics are counters split over shards (one per connection,
// modulo 32), so that concurrent transactions do not queue for one row per
// app and day.
//
// # Round trips
//
// A transaction's statements travel in pipelines (pgx.Batch): its BEGIN goes
// with its first statements, its COMMIT with its last ones. A returning
// user's Login takes two round trips; an AppendMessages batch of any size
// takes two (three when it creates accounts), with a fixed number of
// statements, since each statement handles all of the batch's rows (arrays
// passed as parameters and unnested).
//
// # Schema
//
// The schema is embedded (schema/NNNN_name.sql) and versioned in the table
// schema_version. Open applies the versions a database lacks, each in its
// own transaction, under an advisory lock, so that nodes starting at once
// migrate once; it refuses a database newer than this program. The tables
// live in the first schema of the search_path, which the DSN may set
// (search_path=name).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/imkit/imkit/internal/store"
)

var _ store.Store = (*DB)(nil)

// Options configure Open. The zero value works.
type Options struct {
	// MaxConns is the most connections the pool opens; default 16. Each node
	// sharing the database opens its own pool: keep the sum of the nodes'
	// below the server's max_connections.
	MaxConns int
	// Logger receives what the store does on its own: schema migrations
	// and transactions retried after a deadlock or a serialisation failure.
	// nil discards. The DSN is never logged.
	Logger *slog.Logger
}

// DB is a store.Store in a PostgreSQL database. Its methods are safe for
// concurrent use.
type DB struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

//go:embed schema/*.sql
var schemaFS embed.FS

// Open connects to the PostgreSQL database at dsn (a URL or key=value
// string, as libpq takes) and brings its schema up to date.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parser's message may quote the DSN, with its password.
		return nil, errors.New("postgres: cannot parse the DSN (not shown: it may hold a password)")
	}
	cfg.MaxConns = 16
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(opts.MaxConns)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, log: log}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}

// Close closes the pool's connections, after the transactions in flight.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migrationLock is the advisory lock key that serialises migrations of one
// schema: a hash of this text and the schema's name.
const migrationLock = `hashtextextended('imkit schema ' || coalesce(current_schema(), ''), 0)`

type migration struct {
	version int
	name    string
}

// migrations returns the schema files in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(schemaFS, "schema/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		n, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(n)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("schema file %s: name must start with a version number", base)
		}
		ms = append(ms, migration{v, name})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate brings the schema up to the newest version in schemaFS.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].version
	}
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	// Wait for the lock by asking again, not in pg_advisory_lock: a node
	// waiting there holds a transaction open, which the CREATE INDEX
	// CONCURRENTLY of the node holding the lock would wait for in turn.
	for {
		var locked bool
		if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+migrationLock+`)`).Scan(&locked); err != nil {
			return fmt.Errorf("lock the schema: %w", err)
		}
		if locked {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lock the schema: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer func() {
		// Unlocked with a context of its own: a connection left holding
		// the lock would stop every other node's Open.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := c.Exec(uctx, `SELECT pg_advisory_unlock(`+migrationLock+`)`); err != nil {
			c.Conn().Close(uctx)
		}
	}()
	if _, err := c.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("schema_version: %w", err)
	}
	var have int
	if err := c.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&have); err != nil {
		return fmt.Errorf("schema_version: %w", err)
	}
	if have > latest {
		return fmt.Errorf("the database has schema version %d, newer than this program's %d", have, latest)
	}
	for _, m := range ms {
		if m.version <= have {
			continue
		}
		script, err := schemaFS.ReadFile(m.name)
		if err != nil {
			return err
		}
		if strings.HasPrefix(string(script), noTransaction) {
			err = migrateOutside(ctx, c.Conn(), string(script), m.version)
		} else {
			err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, string(script)); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, m.version)
				return err
			})
		}
		if err != nil {
			return fmt.Errorf("schema version %d: %w", m.version, err)
		}
		db.log.Info("postgres: schema migrated", "version", m.version)
	}
	return nil
}

// noTransaction starts a schema file whose statements run one by one,
// outside a transaction (CREATE INDEX CONCURRENTLY cannot run in one). Each
// of its statements must end a line with ";" and be safe to run again: a
// failure leaves the ones before it done, and the next Open starts over.
const noTransaction = "-- imkit: no transaction\n"

// migrateOutside runs such a script, then records its version.
func migrateOutside(ctx context.Context, c *pgx.Conn, script string, version int) error {
	for stmt := range strings.SplitSeq(script, ";\n") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if _, err := c.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	_, err := c.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, version)
	return err
}

// stripComments drops the lines of s that are "--" comments.
func stripComments(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// SchemaVersion returns the schema version of the database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

// Transactions.

// shards is the number of shards of the day_stats counters.
const shards = 32

// maxAttempts bounds the runs of a transaction that failed on a deadlock, a
// serialisation failure or a lost race (errRetry).
const maxAttempts = 10

// commitTimeout bounds a transaction's last round trip, which the caller's
// context no longer cancels.
const commitTimeout = 30 * time.Second

// errRetry asks update to run a transaction again: it lost a race that
// taking the locks in another order could not avoid, such as creating an
// account that another transaction created meanwhile.
var errRetry = errors.New("postgres: lost a race; retry")

// tx is a transaction in progress on one connection of the pool. Statements
// are queued and sent together, in one round trip, by send; the BEGIN of the
// transaction travels with its first statements and the COMMIT with its
// last (see DB.update).
type tx struct {
	conn  *pgxpool.Conn
	batch *pgx.Batch
	open  bool  // BEGIN is queued or sent, COMMIT or ROLLBACK not yet
	shard int64 // this connection's day_stats shard
}

// queue adds a statement to the next round trip.
func (t *tx) queue(query string, args ...any) *pgx.QueuedQuery {
	if !t.open {
		t.batch.Queue("begin")
		t.open = true
	}
	return t.batch.Queue(query, args...)
}

// send runs the queued statements, with their callbacks, and returns the
// first error. After an error the transaction is aborted.
func (t *tx) send(ctx context.Context) error {
	b := t.batch
	t.batch = &pgx.Batch{}
	if b.Len() == 0 {
		return nil
	}
	return t.conn.SendBatch(ctx, b).Close()
}

// update runs fn in a transaction and commits it, sending the statements fn
// left queued with the COMMIT; it returns fn's error as it is. It runs fn
// again (up to maxAttempts in all) when the transaction failed on a
// deadlock, a serialisation failure or errRetry, so fn must start afresh
// each time. Once fn returned nil, ctx no longer cancels the transaction:
// its last round trip is sent with a context of its own, so that a caller
// giving up does not leave it unknown whether it committed.
func (db *DB) update(ctx context.Context, fn func(t *tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.run(ctx, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
		db.log.Debug("postgres: transaction retried", "attempt", attempt, "err", err)
	}
}

// run runs fn in a transaction once.
func (db *DB) run(ctx context.Context, fn func(t *tx) error) error {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	t := &tx{conn: c, batch: &pgx.Batch{}, shard: int64(c.Conn().PgConn().PID() % shards)}
	defer func() {
		if t.open {
			// Also after a panic in fn: the connection goes back clean, or
			// the pool drops it (it does so with one in a transaction).
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			c.Exec(rctx, "rollback")
			cancel()
		}
		c.Release()
	}()
	if err := fn(t); err != nil {
		return err
	}
	if !t.open {
		return t.send(ctx)
	}
	t.batch.Queue("commit")
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := t.send(cctx); err != nil {
		return err
	}
	t.open = false
	return nil
}

// retryable reports whether a transaction that failed with err may succeed
// when run again.
func retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
	}
	return false
}

// isUnique reports whether err is a unique violation of constraint.
func isUnique(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == constraint
}

// Times are stored as Unix milliseconds; 0 is the zero time.
