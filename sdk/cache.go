package sdk

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	_ "modernc.org/sqlite" // the local cache is SQLite, pure Go

	"github.com/imkit/imkit"
)

// cache is one user's local copy of their mailbox and conversations, kept in
// <DataDir>/<SDKAppID>/<userID>/cache.db (or in memory without a DataDir).
// It lets the conversation list be read before a login succeeds, and it
// remembers up to which mailbox seq the instance has synced.
type cache struct {
	user string
	db   *sql.DB
}

const cacheSchema = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
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
CREATE INDEX IF NOT EXISTS messages_peer ON messages (peer, conv_seq);
CREATE TABLE IF NOT EXISTS conversations (
	peer TEXT PRIMARY KEY,
	last_seq INTEGER NOT NULL,
	conv_seq INTEGER NOT NULL,
	read_seq INTEGER NOT NULL,
	unread INTEGER NOT NULL,
	time INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_time ON conversations (time DESC, peer);
`

// openCache opens the user's cache under dir ("" for memory).
func openCache(dir string, appID uint64, user string) (*cache, error) {
	var dsn string
	if dir == "" {
		var b [8]byte
		rand.Read(b[:])
		dsn = "file:imkit-" + hex.EncodeToString(b[:]) + "?mode=memory&cache=shared"
	} else {
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
	// One connection: the cache is small, and an in-memory database lives
	// as long as its connection.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if _, err := db.Exec(cacheSchema); err != nil {
		db.Close()
		return nil, err
	}
	return &cache{user: user, db: db}, nil
}

func (c *cache) close() { c.db.Close() }

func cacheErr(err error) error {
	return imkit.Errorf(imkit.ErrDatabaseFailed, "local cache: %v", err)
}

// syncedSeq returns the mailbox seq up to which every message is cached.
func (c *cache) syncedSeq(ctx context.Context) (uint64, error) {
	var v string
	err := c.db.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'synced_seq'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, cacheErr(err)
	}
	return strconv.ParseUint(v, 10, 64)
}

func (c *cache) setSyncedSeq(ctx context.Context, seq uint64) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO meta (k, v) VALUES ('synced_seq', ?)
		ON CONFLICT (k) DO UPDATE SET v = excluded.v WHERE CAST(meta.v AS INTEGER) < CAST(excluded.v AS INTEGER)`,
		strconv.FormatUint(seq, 10))
	if err != nil {
		return cacheErr(err)
	}
	return nil
}

// advance raises the synced seq to seq when every message up to it is
// cached.
func (c *cache) advance(ctx context.Context) (uint64, error) {
	synced, err := c.syncedSeq(ctx)
	if err != nil {
		return 0, err
	}
	next := synced
	rows, err := c.db.QueryContext(ctx, `SELECT seq FROM messages WHERE seq > ? ORDER BY seq LIMIT 1000`, synced)
	if err != nil {
		return 0, cacheErr(err)
	}
	for rows.Next() {
		var s uint64
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return 0, cacheErr(err)
		}
		if s != next+1 {
			break
		}
		next = s
	}
	rows.Close()
	if next != synced {
		if err := c.setSyncedSeq(ctx, next); err != nil {
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
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, cacheErr(err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO messages (seq, msg_id, client_msg_id, from_user, to_user, peer, conv_seq, time, random, elems)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING`,
		m.Seq, m.MsgID, m.ClientMsgID, m.From, m.To, peer, m.ConvSeq, m.Time.UnixMilli(), m.Random, string(elems))
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
	_, err = tx.ExecContext(ctx, `INSERT INTO conversations (peer, last_seq, conv_seq, read_seq, unread, time)
		VALUES (?, ?, ?, 0, ?, ?)
		ON CONFLICT (peer) DO UPDATE SET
			unread = unread + CASE WHEN excluded.conv_seq > read_seq THEN excluded.unread ELSE 0 END,
			last_seq = CASE WHEN excluded.conv_seq >= conv_seq THEN excluded.last_seq ELSE last_seq END,
			time = CASE WHEN excluded.conv_seq >= conv_seq THEN excluded.time ELSE time END,
			conv_seq = max(conv_seq, excluded.conv_seq)`,
		peer, m.Seq, m.ConvSeq, unread, m.Time.UnixMilli())
	if err != nil {
		return nil, false, cacheErr(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, false, cacheErr(err)
	}
	conv, err = c.conversation(ctx, peer)
	return conv, true, err
}

// replaceConversations puts the server's conversation list in the cache.
func (c *cache) replaceConversations(ctx context.Context, convs []*Conversation) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return cacheErr(err)
	}
	defer tx.Rollback()
	for _, cv := range convs {
		var lastSeq uint64
		if m := cv.LastMessage; m != nil {
			elems, _ := json.Marshal(m.Elems)
			if _, err := tx.ExecContext(ctx, `INSERT INTO messages (seq, msg_id, client_msg_id, from_user, to_user, peer, conv_seq, time, random, elems)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING`,
				m.Seq, m.MsgID, m.ClientMsgID, m.From, m.To, cv.Peer, m.ConvSeq, m.Time.UnixMilli(), m.Random, string(elems)); err != nil {
				return cacheErr(err)
			}
			lastSeq = m.Seq
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO conversations (peer, last_seq, conv_seq, read_seq, unread, time)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (peer) DO UPDATE SET last_seq = excluded.last_seq, conv_seq = excluded.conv_seq,
				read_seq = excluded.read_seq, unread = excluded.unread, time = excluded.time`,
			cv.Peer, lastSeq, cv.ConvSeq, cv.ReadSeq, cv.Unread, cv.Time.UnixMilli()); err != nil {
			return cacheErr(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return cacheErr(err)
	}
	return nil
}

// setRead records that the conversation with peer is read up to readSeq.
func (c *cache) setRead(ctx context.Context, peer string, readSeq uint64, unread int) (*Conversation, error) {
	if _, err := c.db.ExecContext(ctx, `UPDATE conversations SET read_seq = max(read_seq, ?), unread = ? WHERE peer = ?`,
		readSeq, unread, peer); err != nil {
		return nil, cacheErr(err)
	}
	return c.conversation(ctx, peer)
}

const convColumns = `c.peer, c.conv_seq, c.read_seq, c.unread, c.time,
	m.seq, m.msg_id, m.client_msg_id, m.from_user, m.to_user, m.conv_seq, m.time, m.random, m.elems`

func (c *cache) conversation(ctx context.Context, peer string) (*Conversation, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+convColumns+`
		FROM conversations c LEFT JOIN messages m ON m.seq = c.last_seq WHERE c.peer = ?`, peer)
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
	rows, err := c.db.QueryContext(ctx, `SELECT `+convColumns+`
		FROM conversations c LEFT JOIN messages m ON m.seq = c.last_seq
		ORDER BY c.time DESC, c.peer LIMIT ? OFFSET ?`, count, offset)
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
			cv                              Conversation
			ctime                           int64
			seq, convSeq, mtime, random     sql.NullInt64
			msgID, clientID, from, to, body sql.NullString
		)
		if err := rows.Scan(&cv.Peer, &cv.ConvSeq, &cv.ReadSeq, &cv.Unread, &ctime,
			&seq, &msgID, &clientID, &from, &to, &convSeq, &mtime, &random, &body); err != nil {
			return nil, cacheErr(err)
		}
		cv.Time = timeMilli(ctime)
		if seq.Valid {
			m := &Message{
				MsgID: msgID.String, ClientMsgID: clientID.String, From: from.String, To: to.String,
				Seq: uint64(seq.Int64), ConvSeq: uint64(convSeq.Int64), Time: timeMilli(mtime.Int64), Random: uint32(random.Int64),
			}
			if err := json.Unmarshal([]byte(body.String), &m.Elems); err != nil {
				return nil, cacheErr(fmt.Errorf("message %d: %w", m.Seq, err))
			}
			cv.LastMessage = m
		}
		out = append(out, &cv)
	}
	if err := rows.Err(); err != nil {
		return nil, cacheErr(err)
	}
	return out, nil
}
