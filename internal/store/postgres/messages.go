package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlrows"
)

// pair is a conversation, named by its two users in order (a <= b).
type pair struct{ a, b string }

func pairOf(x, y string) pair {
	if x <= y {
		return pair{x, y}
	}
	return pair{y, x}
}

// AppendMessages implements store.Store, in one transaction of two round
// trips (three when it creates accounts) whatever the batch's size:
//
//  1. BEGIN; lock the users rows of the batch's users, sorted; then read
//     the newest seq of their mailboxes and conversations, and the stored
//     messages that the batch's (From, ClientMsgID) pairs name;
//  2. when new messages come from or go to users without an account:
//     create the accounts (a race lost to another transaction creating one
//     of them runs the whole again);
//  3. store the new messages and file them in both mailboxes (one
//     statement), update their conversations (one), count them (one);
//     COMMIT.
func (db *DB) AppendMessages(ctx context.Context, app uint64, msgs []*store.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	for _, m := range msgs {
		if m == nil || m.From == "" || m.To == "" {
			return errors.New("postgres: append messages: a message without sender or receiver")
		}
	}
	out := make([]store.Message, len(msgs))
	err := db.update(ctx, func(t *tx) error {
		b := &batch{t: t, app: int64(app), msgs: msgs, out: out}
		return b.run(ctx)
	})
	if err != nil {
		return err
	}
	for i, m := range msgs {
		*m = out[i]
	}
	return nil
}

// batch is an AppendMessages in progress.
type batch struct {
	t    *tx
	app  int64
	msgs []*store.Message
	out  []store.Message // msgs as stored
}

// clientKey is a message's (From, ClientMsgID).
type clientKey struct{ from, id string }

// convChange is what a batch changes in a conversation.
type convChange struct {
	first, convSeq, time int64 // of the batch's first and last message in it
	unreadA, unreadB     int64 // new messages to a and to b
}

// dayCounts are what a batch adds to one day's statistics.
type dayCounts struct {
	messages, newUsers int64
}

func (b *batch) run(ctx context.Context) error {
	t := b.t

	// The batch's users, sorted: the order in which every transaction
	// locks users rows. Its conversations, and its client IDs.
	var users []string
	var pairs []pair
	var keys []clientKey
	seenPair := make(map[pair]bool)
	seenKey := make(map[clientKey]bool)
	for _, m := range b.msgs {
		users = append(users, m.From, m.To)
		if p := pairOf(m.From, m.To); !seenPair[p] {
			seenPair[p] = true
			pairs = append(pairs, p)
		}
		if k := (clientKey{m.From, m.ClientMsgID}); k.id != "" && !seenKey[k] {
			seenKey[k] = true
			keys = append(keys, k)
		}
	}
	slices.Sort(users)
	users = slices.Compact(users)

	// Round trip 1.
	//
	// The statements look users, mailboxes, conversations and messages up
	// one by one in their indexes, with a subquery per array element, so
	// that no plan of them (a generic plan, or one made without statistics
	// of a young table) scans a table. The subqueries run in the order of
	// the array: users are locked in the order of users.
	exists := make(map[string]bool, len(users))
	t.queue(`SELECT (SELECT user_id FROM users WHERE app = $1 AND user_id = u FOR UPDATE) FROM unnest($2::text[]) AS u`,
		b.app, users).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var u *string
				if err := rows.Scan(&u); err != nil {
					return err
				}
				if u != nil {
					exists[*u] = true
				}
			}
			return rows.Err()
		})
	// A mailbox's seqs are its user's; the mailbox of a user without an
	// account is empty (DeleteUser empties it).
	maxSeq := make(map[string]int64, len(users))
	t.queue(`SELECT u, coalesce((SELECT seq FROM mbox WHERE app = $1 AND owner = u ORDER BY seq DESC LIMIT 1), 0)
		FROM unnest($2::text[]) AS u`, b.app, users).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var u string
				var seq int64
				if err := rows.Scan(&u, &seq); err != nil {
					return err
				}
				maxSeq[u] = seq
			}
			return rows.Err()
		})
	convSeq := make(map[pair]int64, len(pairs))
	as, bs := make([]string, len(pairs)), make([]string, len(pairs))
	for i, p := range pairs {
		as[i], bs[i] = p.a, p.b
	}
	t.queue(`SELECT p.a, p.b, coalesce((SELECT conv_seq FROM convs WHERE app = $1 AND a = p.a AND b = p.b), 0)
		FROM unnest($2::text[], $3::text[]) AS p(a, b)`, b.app, as, bs).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var p pair
				var seq int64
				if err := rows.Scan(&p.a, &p.b, &seq); err != nil {
					return err
				}
				convSeq[p] = seq
			}
			return rows.Err()
		})
	stored := make(map[clientKey]store.Message)
	if len(keys) > 0 {
		froms, ids := make([]string, len(keys)), make([][]byte, len(keys))
		for i, k := range keys {
			froms[i], ids[i] = k.from, []byte(k.id)
		}
		t.queue(`SELECT `+entryColsM+` FROM unnest($2::text[], $3::bytea[]) AS k(from_user, id)
			CROSS JOIN LATERAL (SELECT * FROM messages
				WHERE app = $1 AND from_user = k.from_user AND client_msg_id = k.id AND client_msg_id <> ''::bytea
				LIMIT 1) m`,
			b.app, froms, ids).
			Query(func(rows pgx.Rows) error {
				var f sqlrows.Entry
				dests := f.Dests()
				for rows.Next() {
					if err := rows.Scan(dests...); err != nil {
						return err
					}
					e := f.Message()
					stored[clientKey{e.From, e.ClientMsgID}] = e
				}
				return rows.Err()
			})
	}
	if err := t.send(ctx); err != nil {
		return err
	}

	// Allocate the seqs.
	var (
		nm       newMessages
		convs    = make(map[pair]*convChange)
		order    []pair // of convs, first change first
		days     = make(map[string]*dayCounts)
		senders  = make(map[[2]string]bool) // (day, user)
		create   []string                   // accounts to create, with their message
		createAt = make(map[string]*store.Message)
		firstOf  = make(map[clientKey]int) // the batch's new message of a client ID
	)
	day := func(d string) *dayCounts {
		c := days[d]
		if c == nil {
			c = new(dayCounts)
			days[d] = c
		}
		return c
	}
	for i, m := range b.msgs {
		k := clientKey{m.From, m.ClientMsgID}
		if k.id != "" {
			if s, ok := stored[k]; ok {
				b.out[i] = s
				b.out[i].Dup, b.out[i].Day = true, m.Day
				continue
			}
			if j, ok := firstOf[k]; ok {
				b.out[i] = b.out[j]
				b.out[i].Dup, b.out[i].Day = true, m.Day
				continue
			}
			firstOf[k] = i
		}
		for _, u := range []string{m.From, m.To} {
			if !exists[u] && createAt[u] == nil {
				createAt[u] = m
				create = append(create, u)
			}
		}
		p := pairOf(m.From, m.To)
		cs := convSeq[p] + 1
		fs := maxSeq[m.From] + 1
		ts := fs
		if m.To != m.From {
			ts = maxSeq[m.To] + 1
		}
		convSeq[p], maxSeq[m.From], maxSeq[m.To] = cs, fs, ts
		b.out[i] = *m
		o := &b.out[i]
		o.ConvSeq, o.FromSeq, o.ToSeq, o.Dup = uint64(cs), uint64(fs), uint64(ts), false
		nm.add(p, m, cs, fs, ts)

		c := convs[p]
		if c == nil {
			c = &convChange{first: cs}
			convs[p] = c
			order = append(order, p)
		}
		c.convSeq, c.time = cs, m.Time
		switch {
		case m.From == m.To:
		case m.To == p.a:
			c.unreadA++
		default:
			c.unreadB++
		}
		d := sqlrows.MessageDay(m)
		day(d).messages++
		senders[[2]string{d, m.From}] = true
	}
	if nm.len() == 0 {
		return nil // all duplicates: nothing to write
	}

	// Round trip 2: the missing accounts. A row this transaction inserts
	// is its own until it commits, as good as locked.
	if len(create) > 0 {
		slices.Sort(create)
		ats := make([]int64, len(create))
		for i, u := range create {
			m := createAt[u]
			ats[i] = m.Time
			day(sqlrows.MessageDay(m)).newUsers++
		}
		var n int64
		t.queue(`INSERT INTO users (app, user_id, created_at)
			SELECT $1, u, t FROM unnest($2::text[], $3::int8[]) AS x(u, t) ORDER BY u
			ON CONFLICT DO NOTHING`, b.app, create, ats).
			Exec(func(ct pgconn.CommandTag) error {
				n = ct.RowsAffected()
				return nil
			})
		if err := t.send(ctx); err != nil {
			return err
		}
		if n != int64(len(create)) {
			// Another transaction created one meanwhile: its mailbox may
			// hold messages now. Start again, locking it.
			return errRetry
		}
	}

	// Round trip 3 (with the COMMIT): messages, conversations, counts.
	nm.queue(t, b.app)
	cv := convRows{}
	for _, p := range order {
		cv.add(p, convs[p])
	}
	cv.queue(t, b.app)

	var sdays, susers []string
	for k := range senders {
		sdays, susers = append(sdays, k[0]), append(susers, k[1])
	}
	var ddays []string
	for d := range days {
		ddays = append(ddays, d)
	}
	slices.Sort(ddays) // day_stats rows in order, as every transaction takes them
	dmsgs, dnew := make([]int64, len(ddays)), make([]int64, len(ddays))
	for i, d := range ddays {
		dmsgs[i], dnew[i] = days[d].messages, days[d].newUsers
	}
	t.queue(`WITH s AS (
			INSERT INTO day_senders (app, day, user_id) SELECT $1, d, u FROM unnest($2::text[], $3::text[]) AS x(d, u)
			ON CONFLICT DO NOTHING RETURNING day
		), n AS (
			SELECT day, count(*) AS n FROM s GROUP BY day
		)
		INSERT INTO day_stats AS d (app, day, shard, messages, senders, new_users)
		SELECT $1, x.day, $4, x.messages, coalesce((SELECT n.n FROM n WHERE n.day = x.day), 0), x.new_users
		FROM unnest($5::text[], $6::int8[], $7::int8[]) AS x(day, messages, new_users) ORDER BY x.day
		ON CONFLICT (app, day, shard) DO UPDATE SET messages = d.messages + excluded.messages,
			senders = d.senders + excluded.senders, new_users = d.new_users + excluded.new_users`,
		b.app, sdays, susers, t.shard, ddays, dmsgs, dnew)
	return nil
}

// newMessages are the columns of the batch's new messages.
type newMessages struct {
	a, b, from, key         []string
	convSeq, fromSeq, toSeq []int64
	random, time            []int64
	clientID, body          [][]byte
}

func (n *newMessages) len() int { return len(n.a) }

func (n *newMessages) add(p pair, m *store.Message, convSeq, fromSeq, toSeq int64) {
	body := m.Body
	if body == nil {
		body = []byte{} // NOT NULL
	}
	n.a, n.b, n.from, n.key = append(n.a, p.a), append(n.b, p.b), append(n.from, m.From), append(n.key, m.ID)
	n.convSeq, n.fromSeq, n.toSeq = append(n.convSeq, convSeq), append(n.fromSeq, fromSeq), append(n.toSeq, toSeq)
	n.random, n.time = append(n.random, int64(m.Random)), append(n.time, m.Time)
	n.clientID, n.body = append(n.clientID, []byte(m.ClientMsgID)), append(n.body, body)
}

// queue queues the statement that stores the messages and files each in
// its sender's and its receiver's mailbox.
func (n *newMessages) queue(t *tx, app int64) {
	t.queue(`WITH m AS (
			INSERT INTO messages (app, a, b, conv_seq, from_user, from_seq, to_seq, msg_key, client_msg_id, random, time, body)
			SELECT $1, x.* FROM unnest($2::text[], $3::text[], $4::int8[], $5::text[], $6::int8[], $7::int8[],
				$8::text[], $9::bytea[], $10::int8[], $11::int8[], $12::bytea[]) AS x
			RETURNING id, a, b, from_user, from_seq, to_seq
		)
		INSERT INTO mbox (app, owner, seq, msg_id)
		SELECT $1, from_user, from_seq, id FROM m
		UNION ALL
		SELECT $1, CASE WHEN from_user = a THEN b ELSE a END, to_seq, id FROM m WHERE a <> b`,
		app, n.a, n.b, n.convSeq, n.from, n.fromSeq, n.toSeq, n.key, n.clientID, n.random, n.time, n.body)
}

// convRows are the columns of the batch's conversation changes.
type convRows struct {
	a, b                         []string
	convSeq, time, first, ua, ub []int64
}

func (c *convRows) add(p pair, ch *convChange) {
	c.a, c.b = append(c.a, p.a), append(c.b, p.b)
	c.convSeq, c.time, c.first = append(c.convSeq, ch.convSeq), append(c.time, ch.time), append(c.first, ch.first)
	c.ua, c.ub = append(c.ua, ch.unreadA), append(c.ub, ch.unreadB)
}

// sideUpsert is the ON CONFLICT update of side x of a convs row: a side
// that is off starts afresh.
func sideUpsert(x string) string {
	return strings.NewReplacer("x_", x+"_").Replace(`
		x_read = CASE WHEN c.x_on THEN c.x_read ELSE 0 END,
		x_unread = CASE WHEN c.x_on THEN c.x_unread ELSE 0 END + excluded.x_unread,
		x_since = CASE WHEN c.x_on THEN c.x_since ELSE excluded.x_since END,
		x_on = true`)
}

// queue queues the statement that updates both sides of each
// conversation.
func (c *convRows) queue(t *tx, app int64) {
	t.queue(`INSERT INTO convs AS c (app, a, b, conv_seq, time,
			a_on, a_read, a_unread, a_since, b_on, b_read, b_unread, b_since)
		SELECT $1, x.a, x.b, x.conv_seq, x.time, true, 0, x.ua, x.first, true, 0, x.ub, x.first
		FROM unnest($2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int8[])
			AS x(a, b, conv_seq, time, first, ua, ub)
		ON CONFLICT (app, a, b) DO UPDATE SET conv_seq = excluded.conv_seq, time = excluded.time,`+
		sideUpsert("a")+`,`+sideUpsert("b"),
		app, c.a, c.b, c.convSeq, c.time, c.first, c.ua, c.ub)
}

// entryColsM are the columns sqlrows.Entry reads, of messages m.
const entryColsM = `m.a, m.b, m.conv_seq, m.from_user, m.from_seq, m.to_seq, m.msg_key, m.client_msg_id,
	m.random, m.time, m.body`

// scanEntries reads entryColsM rows of owner's mailbox and closes rows.
func scanEntries(owner string, rows pgx.Rows) ([]store.Entry, error) {
	defer rows.Close()
	var es []store.Entry
	var f sqlrows.Entry
	dests := f.Dests()
	for rows.Next() {
		if err := rows.Scan(dests...); err != nil {
			return nil, err
		}
		es = append(es, f.Entry(owner))
	}
	return es, rows.Err()
}

// Sync implements store.Store, in one round trip.
func (db *DB) Sync(ctx context.Context, app uint64, owner string, after uint64, limit int) ([]store.Entry, uint64, error) {
	var (
		b      pgx.Batch
		es     []store.Entry
		newest int64
	)
	if limit > 0 && after < math.MaxInt64 {
		b.Queue(`SELECT `+entryColsM+` FROM mbox x JOIN messages m ON m.id = x.msg_id
			WHERE x.app = $1 AND x.owner = $2 AND x.seq > $3 ORDER BY x.seq LIMIT $4`,
			int64(app), owner, int64(after), int64(limit)).
			Query(func(rows pgx.Rows) (err error) {
				es, err = scanEntries(owner, rows)
				return err
			})
	}
	// After the page: the newest seq is at least its last.
	b.Queue(maxSeqSQL, int64(app), owner).QueryRow(func(row pgx.Row) error { return row.Scan(&newest) })
	if err := db.pool.SendBatch(ctx, &b).Close(); err != nil {
		return nil, 0, err
	}
	return es, uint64(newest), nil
}

const maxSeqSQL = `SELECT coalesce((SELECT seq FROM mbox WHERE app = $1 AND owner = $2 ORDER BY seq DESC LIMIT 1), 0)`

// MaxSeq implements store.Store.
func (db *DB) MaxSeq(ctx context.Context, app uint64, owner string) (uint64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, maxSeqSQL, int64(app), owner).Scan(&n)
	return uint64(n), err
}

// UnreadTotal implements store.Store.
func (db *DB) UnreadTotal(ctx context.Context, app uint64, owner string) (int, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce((SELECT sum(a_unread) FROM convs WHERE app = $1 AND a = $2 AND a_on), 0)
		+ coalesce((SELECT sum(b_unread) FROM convs WHERE app = $1 AND b = $2 AND a <> $2 AND b_on), 0)`,
		int64(app), owner).Scan(&n)
	return int(n), err
}

// History implements store.Store.
func (db *DB) History(ctx context.Context, app uint64, owner, peer string, before uint64, limit int) ([]store.Entry, error) {
	if limit <= 0 {
		return nil, nil
	}
	bound := int64(math.MaxInt64)
	if before > 0 && before < math.MaxInt64 {
		bound = int64(before)
	}
	p := pairOf(owner, peer)
	// Owner's side of the conversation starts at its since, and has nothing
	// while off.
	rows, err := db.pool.Query(ctx, `SELECT `+entryColsM+` FROM messages m
		WHERE m.app = $1 AND m.a = $2 AND m.b = $3 AND m.conv_seq < $5
			AND m.conv_seq >= coalesce((SELECT CASE WHEN c.a = $4 THEN CASE WHEN c.a_on THEN c.a_since END
					ELSE CASE WHEN c.b_on THEN c.b_since END END
				FROM convs c WHERE c.app = $1 AND c.a = $2 AND c.b = $3), $5)
		ORDER BY m.conv_seq DESC LIMIT $6`,
		int64(app), p.a, p.b, owner, bound, int64(limit))
	if err != nil {
		return nil, err
	}
	return scanEntries(owner, rows)
}

// Conversations implements store.Store.
func (db *DB) Conversations(ctx context.Context, app uint64, owner string, after store.Cursor, limit int) ([]store.Conversation, error) {
	if limit <= 0 {
		return nil, nil
	}
	if after == (store.Cursor{}) {
		after.Time = math.MaxInt64
	}
	// Those owner is a of and those it is b of, each sorted and cut to
	// the limit, then merged.
	rows, err := db.pool.Query(ctx, `SELECT c.peer, c.conv_seq, c.read, c.unread, c.time, `+entryColsM+`
		FROM (
			(SELECT a, b, b AS peer, conv_seq, a_read AS read, a_unread AS unread, time FROM convs
				WHERE app = $1 AND a = $2 AND a_on AND (time, b) < ($3, $4)
				ORDER BY time DESC, b DESC LIMIT $5)
			UNION ALL
			(SELECT a, b, a AS peer, conv_seq, b_read AS read, b_unread AS unread, time FROM convs
				WHERE app = $1 AND b = $2 AND a <> $2 AND b_on AND (time, a) < ($3, $4)
				ORDER BY time DESC, a DESC LIMIT $5)
			ORDER BY time DESC, peer DESC LIMIT $5
		) c
		JOIN messages m ON m.app = $1 AND m.a = c.a AND m.b = c.b AND m.conv_seq = c.conv_seq
		ORDER BY c.time DESC, c.peer DESC`,
		int64(app), owner, after.Time, after.Peer, int64(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		cs []store.Conversation
		f  sqlrows.Conversation
	)
	dests := f.Dests()
	for rows.Next() {
		if err := rows.Scan(dests...); err != nil {
			return nil, err
		}
		cs = append(cs, f.Conversation(owner))
	}
	return cs, rows.Err()
}

// MarkRead implements store.Store, in two round trips: the first locks the
// conversation's row (an AppendMessages adding to it waits, or has
// committed), the second recounts the unread messages and commits.
func (db *DB) MarkRead(ctx context.Context, app uint64, owner, peer string, convSeq uint64) (store.Conversation, error) {
	p := pairOf(owner, peer)
	side := "a_" // owner's side of the convs row; a for oneself
	if owner != p.a {
		side = "b_"
	}
	sql := strings.NewReplacer("x_", side).Replace
	var conv store.Conversation
	err := db.update(ctx, func(t *tx) error {
		var newest, read int64
		found := false
		t.queue(sql(`SELECT conv_seq, x_read FROM convs WHERE app = $1 AND a = $2 AND b = $3 AND x_on FOR UPDATE`),
			int64(app), p.a, p.b).
			QueryRow(func(row pgx.Row) error {
				err := row.Scan(&newest, &read)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				}
				found = err == nil
				return err
			})
		if err := t.send(ctx); err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("conversation of %q with %q: %w", owner, peer, store.ErrNotFound)
		}
		upTo := newest
		if convSeq > 0 && convSeq < uint64(newest) {
			upTo = int64(convSeq)
		}
		read = max(read, upTo)
		found = false
		t.queue(sql(`WITH u AS (
				UPDATE convs c SET x_read = $4, x_unread = (SELECT count(*) FROM messages
					WHERE app = $1 AND a = $2 AND b = $3 AND conv_seq > greatest($4, c.x_since - 1)
						AND from_user = $5 AND a <> b)
				WHERE c.app = $1 AND c.a = $2 AND c.b = $3
				RETURNING c.conv_seq, c.x_read, c.x_unread, c.time
			)
			SELECT $5::text, u.conv_seq, u.x_read, u.x_unread, u.time, `+entryColsM+`
			FROM u JOIN messages m ON m.app = $1 AND m.a = $2 AND m.b = $3 AND m.conv_seq = u.conv_seq`),
			int64(app), p.a, p.b, read, peer).
			QueryRow(func(row pgx.Row) error {
				var f sqlrows.Conversation
				if err := row.Scan(f.Dests()...); err != nil {
					return fmt.Errorf("postgres: conversation of %q with %q: %w", owner, peer, err)
				}
				conv = f.Conversation(owner)
				return nil
			})
		return nil
	})
	return conv, err
}

// DeleteConversation implements store.Store: it turns owner's side off
// (see the convs table).
func (db *DB) DeleteConversation(ctx context.Context, app uint64, owner, peer string) error {
	p := pairOf(owner, peer)
	side := "a_" // owner's side of the convs row; a for oneself
	if owner != p.a {
		side = "b_"
	}
	return db.update(ctx, func(t *tx) error {
		var n int64
		t.queue(strings.ReplaceAll(`UPDATE convs SET x_on = false, x_unread = 0 WHERE app = $1 AND a = $2 AND b = $3 AND x_on`, "x_", side),
			int64(app), p.a, p.b).Exec(func(ct pgconn.CommandTag) error {
			n = ct.RowsAffected()
			return nil
		})
		if err := t.send(ctx); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("conversation of %q with %q: %w", owner, peer, store.ErrNotFound)
		}
		return nil
	})
}
