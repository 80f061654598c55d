package sdk

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	_ "modernc.org/sqlite" // the local cache is SQLite, pure Go

	"github.com/imkit/imkit"
)

// cache is one user's local copy of their mailbox and conversations, kept in
// <DataDir>/<SDKAppID>/<userID>/cache.db (or in memory without a DataDir).
// It lets the conversation list be read before a login succeeds, and it
// remembers up to which mailbox seq the instance has synced.
//
// Messages enter the cache only from the mailbox (pushes, syncs and this
// instance's own sends), so that a message is new exactly once; a
// conversation row carries a copy of its last message.
type cache struct {
	user string
	db   *sql.DB
	// mu serialises the use of conn: pushes, syncs and calls use the cache
	// from several goroutines, and one connection holds one transaction
	// at a time (SQLite: "cannot start a transaction within a
	// transaction"; a statement run meanwhile would join the other's).
	mu   sync.Mutex
	conn *sql.Conn // the one connection: an in-memory database lives with it

	insertMsg, upsertConv, getConv, listConvs, setRead, getMeta, setMeta, nextSeqs *sql.Stmt
}

// cacheVersion is the schema version (PRAGMA user_version); a cache of
// another version is rebuilt from the server.
const cacheVersion = 2

const cacheSchema = `
CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE messages (
	seq INTEGER PRIMARY KEY,
	msg_id TEXT NOT NULL,
	client_msg_id TEXT NOT NULL,
	from_user TEXT NOT NULL,
	to_user TEXT NOT NULL,
	peer TEXT NOT NULL,
	conv_seq INTEGER NOT NULL,
	time INTEGER NOT NULL,
	random INTEGER NOT NULL,
	elems TEXT NOT NULL
);
CREATE INDEX messages_peer ON messages (peer, conv_seq);
CREATE TABLE conversations (
	peer TEXT PRIMARY KEY,
	conv_seq INTEGER NOT NULL,
	read_seq INTEGER NOT NULL,
	unread INTEGER NOT NULL,
	-- unread counts every message from the peer up to base_seq that is
	-- after read_seq (the server said so), and those added since.
	base_seq INTEGER NOT NULL,
	time INTEGER NOT NULL,
	last TEXT NOT NULL -- the last message, JSON
);
CREATE INDEX conversations_time ON conversations (time DESC, peer);
PRAGMA user_version = 2;
`

// openCache opens the user's cache under dir ("" for memory).
func openCache(ctx context.Context, dir string, appID uint64, user string) (*cache, error) {
	dsn := "file::memory:"
	if dir != "" {
		d := filepath.Join(dir, strconv.FormatUint(appID, 10), user)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		dsn = "file:" + filepath.Join(d, "cache.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &cache{user: user, db: db}
	if err := c.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

func (c *cache) init(ctx context.Context) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	c.conn = conn
	var v int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v != cacheVersion {
		// A new cache, or one an older SDK wrote: start afresh (the server
		// has everything).
		for _, t := range []string{"meta", "messages", "conversations"} {
			if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
				return err
			}
		}
		if _, err := conn.ExecContext(ctx, cacheSchema); err != nil {
			return err
		}
	}
	for _, p := range []struct {
		st *(*sql.Stmt)
		q  string
	}{
		{&c.insertMsg, `INSERT INTO messages (seq, msg_id, client_msg_id, from_user, to_user, peer, conv_seq, time, random, elems)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING`},
		// A message updates its conversation: the last message when it is
		// the newest, and the unread count when it is from the peer and not
		// read yet.
		{&c.upsertConv, `INSERT INTO conversations (peer, conv_seq, read_seq, unread, base_seq, time, last) VALUES (?1, ?2, 0, ?3, 0, ?4, ?5)
			ON CONFLICT (peer) DO UPDATE SET
				unread = unread + CASE WHEN ?2 > read_seq AND ?2 > base_seq THEN ?3 ELSE 0 END,
				last = CASE WHEN ?2 >= conv_seq THEN ?5 ELSE last END,
				time = CASE WHEN ?2 >= conv_seq THEN ?4 ELSE time END,
				conv_seq = max(conv_seq, ?2)`},
		{&c.getConv, `SELECT peer, conv_seq, read_seq, unread, time, last FROM conversations WHERE peer = ?`},
		{&c.listConvs, `SELECT peer, conv_seq, read_seq, unread, time, last FROM conversations ORDER BY time DESC, peer LIMIT ? OFFSET ?`},
		{&c.setRead, `UPDATE conversations SET read_seq = max(read_seq, ?), unread = ? WHERE peer = ?`},
		{&c.getMeta, `SELECT v FROM meta WHERE k = ?`},
		{&c.nextSeqs, `SELECT seq FROM messages WHERE seq > ? ORDER BY seq LIMIT 1000`},
		{&c.setMeta, `INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = max(v, ?2)`},
	} {
		if *p.st, err = conn.PrepareContext(ctx, p.q); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	return nil
}

func (c *cache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.Close()
	c.db.Close()
}

func cacheErr(err error) error {
	return imkit.Errorf(imkit.ErrDatabaseFailed, "local cache: %v", err)
}

// syncedSeq returns the mailbox seq up to which every message is cached.
func (c *cache) syncedSeq(ctx context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.syncedSeqLocked(ctx)
}

func (c *cache) syncedSeqLocked(ctx context.Context) (uint64, error) {
	var v int64
	err := c.getMeta.QueryRowContext(ctx, "synced_seq").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, cacheErr(err)
	}
	return uint64(v), nil
}

// setSyncedSeq raises the synced seq to seq.
func (c *cache) setSyncedSeq(ctx context.Context, seq uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setSyncedSeqLocked(ctx, seq)
}

func (c *cache) setSyncedSeqLocked(ctx context.Context, seq uint64) error {
	if _, err := c.setMeta.ExecContext(ctx, "synced_seq", int64(seq)); err != nil {
		return cacheErr(err)
	}
	return nil
}

// advance raises the synced seq over the messages cached right after it,
// and returns it.
func (c *cache) advance(ctx context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	synced, err := c.syncedSeqLocked(ctx)
	if err != nil {
		return 0, err
	}
	rows, err := c.nextSeqs.QueryContext(ctx, int64(synced))
	if err != nil {
		return 0, cacheErr(err)
	}
	next := synced
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return 0, cacheErr(err)
		}
		if uint64(s) != next+1 {
			break
		}
		next = uint64(s)
	}
	rows.Close()
	if next != synced {
		if err := c.setSyncedSeqLocked(ctx, next); err != nil {
			return 0, err
		}
	}
	return next, nil
}

// add caches a message of the mailbox and updates its conversation; isNew
// is false when it was cached before.
func (c *cache) add(ctx context.Context, m *Message) (conv *Conversation, isNew bool, err error) {
	peer := m.peer(c.user)
	elems, err := json.Marshal(m.Elems)
	if err != nil {
		return nil, false, cacheErr(err)
	}
	last, err := json.Marshal(m)
	if err != nil {
		return nil, false, cacheErr(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tx, err := c.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, cacheErr(err)
	}
	defer tx.Rollback()
	res, err := tx.StmtContext(ctx, c.insertMsg).ExecContext(ctx, int64(m.Seq), m.MsgID, m.ClientMsgID, m.From, m.To, peer,
		int64(m.ConvSeq), m.Time.UnixMilli(), int64(m.Random), string(elems))
	if err != nil {
		return nil, false, cacheErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, false, nil
	}
	unread := 0
	if m.From == peer {
		unread = 1
	}
	if _, err := tx.StmtContext(ctx, c.upsertConv).ExecContext(ctx, peer, int64(m.ConvSeq), unread, m.Time.UnixMilli(), string(last)); err != nil {
		return nil, false, cacheErr(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, false, cacheErr(err)
	}
	conv, err = c.conversationLocked(ctx, peer)
	return conv, true, err
}

// putConversations records the server's view of conversations: read
// state, unread count and last message. Messages themselves enter only
// through add.
func (c *cache) putConversations(ctx context.Context, convs []*Conversation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tx, err := c.conn.BeginTx(ctx, nil)
	if err != nil {
		return cacheErr(err)
	}
	defer tx.Rollback()
	for _, cv := range convs {
		last, err := json.Marshal(cv.LastMessage)
		if err != nil {
			return cacheErr(err)
		}
		// The server's unread count covers its messages up to ConvSeq;
		// one of those reaching the mailbox later is not counted again,
		// and newer ones the cache has already are added to it.
		if _, err := tx.ExecContext(ctx, `INSERT INTO conversations (peer, conv_seq, read_seq, unread, base_seq, time, last)
			VALUES (?1, ?2, ?3, ?4, ?2, ?5, ?6)
			ON CONFLICT (peer) DO UPDATE SET read_seq = ?3,
				unread = ?4 + (SELECT count(*) FROM messages WHERE peer = ?1 AND from_user = ?1 AND conv_seq > max(?2, ?3)),
				base_seq = max(conv_seq, ?2),
				last = CASE WHEN ?2 >= conv_seq THEN ?6 ELSE last END,
				time = CASE WHEN ?2 >= conv_seq THEN ?5 ELSE time END,
				conv_seq = max(conv_seq, ?2)`,
			cv.Peer, int64(cv.ConvSeq), int64(cv.ReadSeq), cv.Unread, cv.Time.UnixMilli(), string(last)); err != nil {
			return cacheErr(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return cacheErr(err)
	}
	return nil
}

// markRead records that the conversation with peer is read up to readSeq.
func (c *cache) markRead(ctx context.Context, peer string, readSeq uint64, unread int) (*Conversation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.setRead.ExecContext(ctx, int64(readSeq), unread, peer); err != nil {
		return nil, cacheErr(err)
	}
	return c.conversationLocked(ctx, peer)
}

func (c *cache) conversationLocked(ctx context.Context, peer string) (*Conversation, error) {
	rows, err := c.getConv.QueryContext(ctx, peer)
	if err != nil {
		return nil, cacheErr(err)
	}
	convs, err := scanConversations(rows)
	if err != nil || len(convs) == 0 {
		return nil, err
	}
	return convs[0], nil
}

// conversations returns count conversations from offset, newest first.
func (c *cache) conversations(ctx context.Context, offset, count int) ([]*Conversation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rows, err := c.listConvs.QueryContext(ctx, count, offset)
	if err != nil {
		return nil, cacheErr(err)
	}
	return scanConversations(rows)
}

func scanConversations(rows *sql.Rows) ([]*Conversation, error) {
	defer rows.Close()
	var out []*Conversation
	for rows.Next() {
		var (
			cv    Conversation
			ctime int64
			last  string
		)
		if err := rows.Scan(&cv.Peer, &cv.ConvSeq, &cv.ReadSeq, &cv.Unread, &ctime, &last); err != nil {
			return nil, cacheErr(err)
		}
		cv.Time = timeMilli(ctime)
		if err := json.Unmarshal([]byte(last), &cv.LastMessage); err != nil {
			return nil, cacheErr(fmt.Errorf("conversation %s: %w", cv.Peer, err))
		}
		out = append(out, &cv)
	}
	if err := rows.Err(); err != nil {
		return nil, cacheErr(err)
	}
	return out, nil
}
