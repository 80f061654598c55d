// Package sqlite is the embedded storage engine: a store.Store in one SQLite
// file, through the pure-Go driver modernc.org/sqlite (no cgo).
//
// The database runs in WAL mode. All writes go through one connection, one
// transaction at a time (BEGIN IMMEDIATE), so the login policy is applied
// atomically per user without further locking. Concurrent writes are group
// committed: they share a transaction, each in a savepoint of its own, so
// that one commit (its WAL writes and locks, the cost that dominates a short
// transaction) serves many of them; see update. Reads use a small pool of
// other connections and never wait for writers. The statements of the hot
// paths (Login, AppendMessages, Sync) are prepared once, and the write path
// runs them on the driver directly. Checkpoints run in the background, off
// the write path; see checkpointer.
//
// Durability is set by Options.Synchronous. With "NORMAL" (the default) a
// commit is written to the WAL file, and so handed to the operating system,
// before the call returns, but not fsynced: a crash of the process (kill -9,
// a panic, an OOM kill) loses nothing that was committed, while a power loss
// or a kernel crash may lose the last transactions (never corrupting the
// database). With "FULL" every commit is also fsynced: it survives a power
// loss too, at the cost of an fsync per commit, which group commit and
// AppendMessages' batches spread over many writes.
//
// The schema is embedded (schema/NNNN_name.sql) and versioned with PRAGMA
// user_version; Open applies the versions a database lacks, each in its own
// transaction, and refuses a database newer than this program.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	msqlite "modernc.org/sqlite" // also registers the "sqlite" driver

	"github.com/imkit/imkit/internal/store"
)

var _ store.Store = (*DB)(nil)

// Options configure Open. The zero value works.
type Options struct {
	// Synchronous is SQLite's synchronous setting: "NORMAL" (the default)
	// survives a crash of the process, such as kill -9, since WAL commits
	// reach the operating system before they return; "FULL" also survives a
	// power loss, with an fsync per commit.
	Synchronous string
	// ReadConns is the number of read connections; default 4.
	ReadConns int
	// BusyTimeout is how long a statement waits for a lock held by another
	// process (such as the imkit command run beside the server); default 5s.
	BusyTimeout time.Duration
	// Logger receives the errors of background work (checkpoints); nil
	// discards them.
	Logger *slog.Logger
	// MaxWALPages is how long the write-ahead log grows, in pages of 4 KiB,
	// before the checkpointer starts it over, holding writes for a moment
	// (see checkpoint.go); default 16384 (64 MiB). A longer WAL makes each
	// read and write dearer.
	MaxWALPages int
}

// DB is a store.Store in one SQLite database file. Its methods are safe for
// concurrent use.
type DB struct {
	qmu     sync.Mutex // guards queue, leading and closed
	queue   []*op      // writes waiting for a group
	leading bool       // some caller is running a group, or about to
	closed  bool

	wmu sync.Mutex // guards w, ws and mc, and serialises write transactions
	wdb *sql.DB
	w   *sql.Conn // the one write connection; nil once closed
	ws  writeStmts
	mc  msgCache

	rdb *sql.DB // the read connections
	rs  readStmts

	ckpt *checkpointer
}

// errClosed is returned by the methods of a closed DB.
var errClosed = errors.New("sqlite: database is closed")

//go:embed schema/*.sql
var schemaFS embed.FS

// Open opens the database file at path, creating it when missing (its
// directory must exist), and brings its schema up to date.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	syncMode := strings.ToUpper(opts.Synchronous)
	switch syncMode {
	case "":
		syncMode = "NORMAL"
	case "NORMAL", "FULL":
	default:
		return nil, fmt.Errorf("sqlite: synchronous %q: want NORMAL or FULL", opts.Synchronous)
	}
	nread := opts.ReadConns
	if nread <= 0 {
		nread = 4
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}

	pragma := func(busy time.Duration, ps ...string) string {
		q := "_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")"
		for _, p := range ps {
			q += "&_pragma=" + p
		}
		return fileURI(path) + "?" + q
	}
	// Sync with fdatasync, as SQLite's own Linux builds do (modernc's
	// transpiled library defaults to fsync). fdatasync writes the data and
	// the size, so durability is the same, but not the timestamps: fsync's
	// journal commit for the mtime is what stalled the writer behind each
	// checkpoint (p99 at 1,000 msgs/s: see BENCHMARKS.md). Where fdatasync
	// is unavailable the setting stays off and fsync is used.
	msqlite.Fdatasync(true)
	db := &DB{}
	var err error
	db.wdb, err = sql.Open("sqlite", pragma(busy,
		"synchronous("+syncMode+")",
		"foreign_keys(0)",
		"cache_size(-32768)", // 32 MiB
		"temp_store(MEMORY)",
		"journal_size_limit(67108864)",
		"wal_autocheckpoint(0)", // see checkpointer
	))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.wdb.SetMaxOpenConns(1)
	db.wdb.SetMaxIdleConns(1)
	db.wdb.SetConnMaxLifetime(0)
	db.wdb.SetConnMaxIdleTime(0)
	if db.w, err = db.wdb.Conn(ctx); err != nil {
		db.wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	fail := func(err error) (*DB, error) {
		db.close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	var mode string
	if err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fail(err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fail(fmt.Errorf("journal mode is %s, not WAL", mode))
	}
	if err := migrate(ctx, db.w); err != nil {
		return fail(err)
	}
	if err := db.ws.prepare(ctx, db.w); err != nil {
		return fail(err)
	}

	db.rdb, err = sql.Open("sqlite", pragma(busy,
		"query_only(1)",
		"cache_size(-16384)", // 16 MiB
		"temp_store(MEMORY)",
		// Every commit empties a reader's page cache; mapped pages of the
		// database file are read again without a system call or a copy.
		"mmap_size(1073741824)",
	))
	if err != nil {
		return fail(err)
	}
	db.rdb.SetMaxOpenConns(nread)
	db.rdb.SetMaxIdleConns(nread)
	db.rdb.SetConnMaxLifetime(0)
	db.rdb.SetConnMaxIdleTime(0)
	if err := db.rs.prepare(ctx, db.rdb); err != nil {
		return fail(err)
	}

	cdb, err := sql.Open("sqlite", pragma(restartBusy))
	if err != nil {
		return fail(err)
	}
	cdb.SetMaxOpenConns(1)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db.ckpt = startCheckpointer(path, cdb, &db.wmu, cmp.Or(opts.MaxWALPages, defaultMaxWALPages), log)
	return db, nil
}

// fileURI makes a SQLite URI of a file path, so that no character of the
// path is taken for a query parameter.
func fileURI(p string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + r.Replace(p)
}

// Close closes the database. Transactions in flight finish first.
func (db *DB) Close() error {
	db.qmu.Lock()
	db.closed = true
	db.qmu.Unlock()
	// The checkpointer takes wmu to restart the WAL: stop it first.
	db.ckpt.halt()
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if db.w == nil {
		return nil
	}
	return db.close()
}

// close closes whatever Open opened; the caller holds wmu or is Open.
func (db *DB) close() error {
	var errs []error
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.close())
	}
	if db.rdb != nil {
		db.rs.close()
		errs = append(errs, db.rdb.Close())
	}
	if db.w != nil {
		db.ws.close(db.w)
		errs = append(errs, db.w.Close())
		db.w = nil
	}
	errs = append(errs, db.wdb.Close())
	if db.ckpt != nil {
		// sql.DB.Close leaves a connection in use open until it is
		// returned: a read still running holds SQLite's locks, which
		// closing the checkpointer's descriptor would drop.
		waitReturned(5*time.Second, db.rdb, db.wdb)
		errs = append(errs, db.ckpt.closeFile())
	}
	return errors.Join(errs...)
}

// waitReturned waits up to d for the connections of the closed dbs that
// were in use to be returned, and so closed.
func waitReturned(d time.Duration, dbs ...*sql.DB) {
	deadline := time.Now().Add(d)
	for _, x := range dbs {
		for x != nil && x.Stats().OpenConnections > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// migrate brings the schema of the database on c up to the newest version
// in schemaFS.
func migrate(ctx context.Context, c *sql.Conn) error {
	names, err := fs.Glob(schemaFS, "schema/*.sql")
	if err != nil {
		return err
	}
	type migration struct {
		version int
		name    string
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		n, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(n)
		if err != nil || v <= 0 {
			return fmt.Errorf("schema file %s: name must start with a version number", base)
		}
		ms = append(ms, migration{v, name})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].version
	}

	for _, m := range ms {
		script, err := schemaFS.ReadFile(m.name)
		if err != nil {
			return err
		}
		if err := migrateTo(ctx, c, m.version, latest, string(script)); err != nil {
			return fmt.Errorf("schema version %d: %w", m.version, err)
		}
	}
	return nil
}

// migrateTo applies script, the schema change to version, when the database
// is below it.
func migrateTo(ctx context.Context, c *sql.Conn, version, latest int, script string) (err error) {
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	var have int
	if err := c.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return err
	}
	if have > latest {
		return fmt.Errorf("the database has schema version %d, newer than this program's %d", have, latest)
	}
	if have < version {
		if _, err := c.ExecContext(ctx, script); err != nil {
			return err
		}
		if _, err := c.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(version)); err != nil {
			return err
		}
	}
	_, err = c.ExecContext(ctx, "COMMIT")
	return err
}

// SchemaVersion returns the schema version of the database (PRAGMA
// user_version).
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.rdb.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// isConstraint reports whether err is a SQLite constraint violation.
func isConstraint(err error) bool {
	var e interface{ Code() int }
	return errors.As(err, &e) && e.Code()&0xff == 19 // SQLITE_CONSTRAINT
}

// Times are stored as Unix milliseconds; 0 is the zero time.
