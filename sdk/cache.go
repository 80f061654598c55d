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
// It lets the conversation list and the history already seen be read
// before a login succeeds, and it keeps the mailbox cursor: the seq up to
// which every message of the mailbox has been taken in.
//
// One connection serves every use, one use at a time (mu): pushes, sends,
// syncs, reads from the app. A message is new when the cursor passes it,
// and the cursor moves only over a run of seqs with no gap (or over what
// the server said is complete), so that the app hears of each message once
// and in mailbox order, however the pushes, the sends' replies and the
// syncs that bring them interleave.
type cache struct {
	user string
	db   *sql.DB

	mu     sync.Mutex // guards conn and every use of the statements
	conn   *sql.Conn  // the one connection: an in-memory database lives with it
	closed bool

	insertMsg, upsertConv, getConv, listConvs, setRead, getMeta, setMeta, nextMsgs, historyMsgs, totalUnread *sql.Stmt
}

// cacheVersion is the schema version (PRAGMA user_version); a cache of
// another version is rebuilt from the server.
const cacheVersion = 4

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
	elems TEXT NOT NULL,
	mine INTEGER NOT NULL -- sent by this instance: never announced to it
);
CREATE INDEX messages_peer ON messages (peer, conv_seq);
CREATE TABLE conversations (
	peer TEXT PRIMARY KEY,
	conv_seq INTEGER NOT NULL,
	read_seq INTEGER NOT NULL,
	unread INTEGER NOT NULL,
	-- unread counts every message from the peer up to base_seq that is
	-- after read_seq (the server said so), and those taken in since.
	base_seq INTEGER NOT NULL,
	time INTEGER NOT NULL,
	last TEXT NOT NULL, -- the last message, JSON
	-- the pass of the conversation list (meta pass) that listed or changed
	-- it last: one a whole pass did not list is gone from the server
	pass INTEGER NOT NULL
);
CREATE INDEX conversations_time ON conversations (time DESC, peer);
PRAGMA user_version = 4;
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
	const msgCols = `seq, msg_id, client_msg_id, from_user, to_user, conv_seq, time, random, elems, mine`
	for _, p := range []struct {
		st *(*sql.Stmt)
		q  string
	}{
		{&c.insertMsg, `INSERT INTO messages (seq, msg_id, client_msg_id, from_user, to_user, peer, conv_seq, time, random, elems, mine)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?11) ON CONFLICT (seq) DO UPDATE SET mine = max(mine, ?11)`},
		// A message taken in updates its conversation: the last message
		// when it is the newest, and the unread count when it is from the
		// peer and not read yet.
		{&c.upsertConv, `INSERT INTO conversations (peer, conv_seq, read_seq, unread, base_seq, time, last, pass)
			VALUES (?1, ?2, 0, ?3, 0, ?4, ?5, ` + currentPass + `)
			ON CONFLICT (peer) DO UPDATE SET
				pass = ` + currentPass + `,
				unread = unread + CASE WHEN ?2 > read_seq AND ?2 > base_seq THEN ?3 ELSE 0 END,
				last = CASE WHEN ?2 >= conv_seq THEN ?5 ELSE last END,
				time = CASE WHEN ?2 >= conv_seq THEN ?4 ELSE time END,
				conv_seq = max(conv_seq, ?2)`},
		{&c.getConv, `SELECT peer, conv_seq, read_seq, unread, time, last FROM conversations WHERE peer = ?`},
		{&c.listConvs, `SELECT peer, conv_seq, read_seq, unread, time, last FROM conversations ORDER BY time DESC, peer LIMIT ? OFFSET ?`},
		{&c.setRead, `UPDATE conversations SET unread = CASE WHEN ?1 >= read_seq THEN ?2 ELSE unread END, read_seq = max(read_seq, ?1) WHERE peer = ?3`},
		{&c.getMeta, `SELECT v FROM meta WHERE k = ?`},
		{&c.setMeta, `INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = max(v, ?2)`},
		{&c.nextMsgs, `SELECT ` + msgCols + ` FROM messages WHERE seq > ? ORDER BY seq LIMIT 500`},
		{&c.historyMsgs, `SELECT ` + msgCols + ` FROM messages WHERE peer = ?1 AND conv_seq < ?2 ORDER BY conv_seq DESC LIMIT ?3`},
		// The unread of the conversations the current pass listed (or that
		// changed since it began), and of those it has still to list.
		{&c.totalUnread, `SELECT coalesce((SELECT sum(unread) FROM conversations WHERE pass = ` + currentPass + `), 0)
			+ coalesce((SELECT v FROM meta WHERE k = 'unlisted_unread'), 0)`},
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
	c.closed = true
	c.conn.Close()
	c.db.Close()
}

// lock takes the cache for one use; it fails once the cache is closed.
func (c *cache) lock() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return imkit.Errorf(imkit.ErrDatabaseFailed, "local cache: closed")
	}
	return nil
}

func cacheErr(err error) error {
	return imkit.Errorf(imkit.ErrDatabaseFailed, "local cache: %v", err)
}

// cursorKey is the meta row of the mailbox cursor; a cache without it has
// never synced (a new device).
const cursorKey = "synced_seq"

// cursor returns the mailbox cursor, and whether the cache has one at all.
func (c *cache) cursor(ctx context.Context) (seq uint64, ok bool, err error) {
	if err := c.lock(); err != nil {
		return 0, false, err
	}
	defer c.mu.Unlock()
	return c.cursorLocked(ctx, c.getMeta)
}

func (c *cache) cursorLocked(ctx context.Context, get *sql.Stmt) (uint64, bool, error) {
	var v int64
	err := get.QueryRowContext(ctx, cursorKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, cacheErr(err)
	}
	return uint64(v), true, nil
}

// taken is what one take did: the messages new to the app, in mailbox
// order, and the conversations they changed.
type taken struct {
	news  []*Message
	convs []*Conversation
	// cursor is the mailbox cursor after the take.
	cursor uint64
}

// take caches messages of the mailbox (mine says which this instance sent:
// they are never announced to it) and moves the cursor over every cached
// message right after it: over a gap-free run of seqs, and over anything up
// to complete, which the caller knows to hold every message there is up to
// it. With skipTo, the cursor first jumps to skipTo without announcing what
// it passes (a new device, or one away too long: the conversation list
// tells it instead). Messages the cursor passes update their conversation.
func (c *cache) take(ctx context.Context, msgs []*Message, mine func(*Message) bool, complete, skipTo uint64) (t taken, err error) {
	err = c.write(ctx, func(tx *sql.Tx) error {
		if t, err = c.takeTx(ctx, tx, msgs, mine, complete, skipTo); err != nil {
			return err
		}
		get := tx.StmtContext(ctx, c.getConv)
		for i, cv := range t.convs {
			if t.convs[i], err = conversationOf(ctx, get, cv.Peer); err != nil {
				return err
			}
		}
		return nil
	})
	return t, err
}

// write runs fn in one transaction, with the cache to itself.
func (c *cache) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := c.lock(); err != nil {
		return err
	}
	defer c.mu.Unlock()
	tx, err := c.conn.BeginTx(ctx, nil)
	if err != nil {
		return cacheErr(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return cacheErr(err)
	}
	return nil
}

func (c *cache) takeTx(ctx context.Context, tx *sql.Tx, msgs []*Message, mine func(*Message) bool, complete, skipTo uint64) (taken, error) {
	insert := tx.StmtContext(ctx, c.insertMsg)
	for _, m := range msgs {
		if err := c.insertLocked(ctx, insert, m, mine != nil && mine(m)); err != nil {
			return taken{}, err
		}
	}
	cursor, _, err := c.cursorLocked(ctx, tx.StmtContext(ctx, c.getMeta))
	if err != nil {
		return taken{}, err
	}
	cursor = max(cursor, skipTo)
	var t taken
	changed := map[string]bool{}
	next, upsert := tx.StmtContext(ctx, c.nextMsgs), tx.StmtContext(ctx, c.upsertConv)
	for {
		rows, err := next.QueryContext(ctx, int64(cursor))
		if err != nil {
			return taken{}, cacheErr(err)
		}
		page, err := scanMessages(rows)
		if err != nil {
			return taken{}, err
		}
		passed := 0
		for _, cm := range page {
			if cm.Seq != cursor+1 && cm.Seq > complete {
				break
			}
			cursor = cm.Seq
			passed++
			peer := cm.peer(c.user)
			last, err := json.Marshal(&cm.Message)
			if err != nil {
				return taken{}, cacheErr(err)
			}
			unread := 0
			if cm.From == peer {
				unread = 1
			}
			if _, err := upsert.ExecContext(ctx, peer, int64(cm.ConvSeq), unread, cm.Time.UnixMilli(), string(last)); err != nil {
				return taken{}, cacheErr(err)
			}
			if !changed[peer] {
				changed[peer] = true
				t.convs = append(t.convs, &Conversation{Peer: peer})
			}
			if !cm.mine {
				t.news = append(t.news, &cm.Message)
			}
		}
		if passed < len(page) || len(page) == 0 {
			break
		}
	}
	cursor = max(cursor, complete)
	if _, err := tx.StmtContext(ctx, c.setMeta).ExecContext(ctx, cursorKey, int64(cursor)); err != nil {
		return taken{}, cacheErr(err)
	}
	t.cursor = cursor
	return t, nil
}

func (c *cache) insertLocked(ctx context.Context, insert *sql.Stmt, m *Message, mine bool) error {
	elems, err := json.Marshal(m.Elems)
	if err != nil {
		return cacheErr(err)
	}
	isMine := 0
	if mine {
		isMine = 1
	}
	if _, err := insert.ExecContext(ctx, int64(m.Seq), m.MsgID, m.ClientMsgID, m.From, m.To, m.peer(c.user),
		int64(m.ConvSeq), m.Time.UnixMilli(), int64(m.Random), string(elems), isMine); err != nil {
		return cacheErr(err)
	}
	return nil
}

// cachedMessage is a message as the cache holds it.
type cachedMessage struct {
	Message
	mine bool
}

func scanMessages(rows *sql.Rows) ([]*cachedMessage, error) {
	defer rows.Close()
	var out []*cachedMessage
	for rows.Next() {
		var (
			m                           cachedMessage
			seq, convSeq, mtime, random int64
			elems                       string
		)
		if err := rows.Scan(&seq, &m.MsgID, &m.ClientMsgID, &m.From, &m.To, &convSeq, &mtime, &random, &elems, &m.mine); err != nil {
			return nil, cacheErr(err)
		}
		m.Seq, m.ConvSeq, m.Time, m.Random = uint64(seq), uint64(convSeq), timeMilli(mtime), uint32(random)
		if err := json.Unmarshal([]byte(elems), &m.Elems); err != nil {
			return nil, cacheErr(fmt.Errorf("message %d: %w", seq, err))
		}
		out = append(out, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, cacheErr(err)
	}
	return out, nil
}

// putHistory caches messages read from the history, for History to serve
// them again offline; they change no conversation and no cursor.
func (c *cache) putHistory(ctx context.Context, msgs []*Message) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		insert := tx.StmtContext(ctx, c.insertMsg)
		for _, m := range msgs {
			if err := c.insertLocked(ctx, insert, m, false); err != nil {
				return err
			}
		}
		return nil
	})
}

// history returns up to count cached messages of the conversation with
// peer whose ConvSeq is below before (0: the newest), newest first, and
// whether they are all there are: a gap-free run of conversation seqs from
// the newest the cache knows of (or before-1) down count messages or to the
// first.
func (c *cache) history(ctx context.Context, peer string, before uint64, count int) (msgs []*Message, complete bool, err error) {
	if err := c.lock(); err != nil {
		return nil, false, err
	}
	defer c.mu.Unlock()
	top := before
	if top == 0 {
		conv, err := conversationOf(ctx, c.getConv, peer)
		if err != nil {
			return nil, false, err
		}
		if conv == nil {
			return nil, false, nil
		}
		top = conv.ConvSeq + 1
	}
	rows, err := c.historyMsgs.QueryContext(ctx, peer, int64(top), count)
	if err != nil {
		return nil, false, cacheErr(err)
	}
	page, err := scanMessages(rows)
	if err != nil {
		return nil, false, err
	}
	complete = true
	want := top - 1
	for _, m := range page {
		if m.ConvSeq != want {
			complete = false
		}
		want = m.ConvSeq - 1
		msgs = append(msgs, &m.Message)
	}
	if len(page) < count && want != 0 {
		complete = false
	}
	return msgs, complete, nil
}

// currentPass is the pass of the conversation list under way, or the
// last one.
const currentPass = `coalesce((SELECT v FROM meta WHERE k = 'pass'), 0)`

// page is one page of the server's conversation list.
type page struct {
	convs []*Conversation
	// first is the first page of a pass over the list (see beginPass);
	// total is then the sum of the unread counts of all the user's
	// conversations (nil: not known).
	first bool
	total *int
	// last ends the pass.
	last bool
}

// beginPass begins a pass over the conversation list, before its first
// page is asked for.
func (c *cache) beginPass(ctx context.Context) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (k, v) VALUES ('pass', 1) ON CONFLICT (k) DO UPDATE SET v = v + 1`); err != nil {
			return cacheErr(err)
		}
		return nil
	})
}

// putPage records the server's view of conversations: read state, unread
// count and last message (messages themselves enter only through take).
// The last page of a pass forgets the conversations the whole pass did not
// list (deleted on another device meanwhile) and returns their peers.
func (c *cache) putPage(ctx context.Context, p page) (gone []string, err error) {
	err = c.write(ctx, func(tx *sql.Tx) error {
		setMeta := func(k string, v any) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = ?2`, k, v)
			return err
		}
		listed := 0
		for _, cv := range p.convs {
			last, err := json.Marshal(cv.LastMessage)
			if err != nil {
				return cacheErr(err)
			}
			// The server's unread count covers its messages up to ConvSeq;
			// one of those taken in later is not counted again, and newer
			// ones taken in already are added to it. A read state older
			// than the cache's (a conv.read push overtook this reply) is
			// not taken.
			if _, err := tx.ExecContext(ctx, `INSERT INTO conversations (peer, conv_seq, read_seq, unread, base_seq, time, last, pass)
				VALUES (?1, ?2, ?3, ?4, ?2, ?5, ?6, `+currentPass+`)
				ON CONFLICT (peer) DO UPDATE SET
					unread = CASE WHEN ?3 >= read_seq THEN ?4 + (SELECT count(*) FROM messages
						WHERE peer = ?1 AND from_user = ?1 AND conv_seq > max(?2, ?3)
							AND seq <= (SELECT v FROM meta WHERE k = ?7)) ELSE unread END,
					read_seq = max(read_seq, ?3),
					base_seq = max(conv_seq, ?2),
					last = CASE WHEN ?2 >= conv_seq THEN ?6 ELSE last END,
					time = CASE WHEN ?2 >= conv_seq THEN ?5 ELSE time END,
					conv_seq = max(conv_seq, ?2),
					pass = `+currentPass,
				cv.Peer, int64(cv.ConvSeq), int64(cv.ReadSeq), cv.Unread, cv.Time.UnixMilli(), string(last), cursorKey); err != nil {
				return cacheErr(err)
			}
			listed += cv.Unread
		}
		// What the pass has still to list: the server's total less what
		// it listed so far.
		switch {
		case p.last:
			if err := setMeta("unlisted_unread", 0); err != nil {
				return cacheErr(err)
			}
		case p.first && p.total != nil:
			if err := setMeta("unlisted_unread", max(0, *p.total-listed)); err != nil {
				return cacheErr(err)
			}
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE meta SET v = max(0, v - ?) WHERE k = 'unlisted_unread'`, listed); err != nil {
				return cacheErr(err)
			}
		}
		if !p.last {
			return nil
		}
		rows, err := tx.QueryContext(ctx, `DELETE FROM conversations WHERE pass < `+currentPass+` RETURNING peer`)
		if err != nil {
			return cacheErr(err)
		}
		for rows.Next() {
			var peer string
			if err := rows.Scan(&peer); err != nil {
				rows.Close()
				return cacheErr(err)
			}
			gone = append(gone, peer)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return cacheErr(err)
		}
		for _, peer := range gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE peer = ?`, peer); err != nil {
				return cacheErr(err)
			}
		}
		return nil
	})
	return gone, err
}

// markRead records that the conversation with peer is read up to readSeq.
func (c *cache) markRead(ctx context.Context, peer string, readSeq uint64, unread int) (*Conversation, error) {
	if err := c.lock(); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	if _, err := c.setRead.ExecContext(ctx, int64(readSeq), unread, peer); err != nil {
		return nil, cacheErr(err)
	}
	return conversationOf(ctx, c.getConv, peer)
}

// conversationOf reads the conversation with peer with get (c.getConv, or
// it in a transaction); nil when there is none.
func conversationOf(ctx context.Context, get *sql.Stmt, peer string) (*Conversation, error) {
	rows, err := get.QueryContext(ctx, peer)
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
	if err := c.lock(); err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	rows, err := c.listConvs.QueryContext(ctx, count, offset)
	if err != nil {
		return nil, cacheErr(err)
	}
	return scanConversations(rows)
}

// deleteConversation forgets the conversation with peer and its messages;
// the mailbox cursor stays where it is.
func (c *cache) deleteConversation(ctx context.Context, peer string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM conversations WHERE peer = ?`, `DELETE FROM messages WHERE peer = ?`} {
			if _, err := tx.ExecContext(ctx, q, peer); err != nil {
				return cacheErr(err)
			}
		}
		return nil
	})
}

// unread returns the user's total unread count: the cached conversations'
// as far as the conversation list's current pass has listed them, and the
// server's figure for the rest.
func (c *cache) unread(ctx context.Context) (int, error) {
	if err := c.lock(); err != nil {
		return 0, err
	}
	defer c.mu.Unlock()
	var n int
	if err := c.totalUnread.QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, cacheErr(err)
	}
	return n, nil
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
