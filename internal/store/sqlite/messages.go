package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlrows"
)

// mailbox is what AppendMessages knows of one user's mailbox.
type mailbox struct {
	user    string
	maxSeq  int64  // the newest seq, counting the batch so far
	sendDay string // the users.send_day hint
	missing bool   // the account is to be created with the first new message
}

// pair is a conversation, named by its two users in order (a <= b).
type pair struct{ a, b string }

func pairOf(x, y string) pair {
	if x <= y {
		return pair{x, y}
	}
	return pair{y, x}
}

// convChange is what a batch changes in a conversation.
type convChange struct {
	first, convSeq, time int64 // of the batch's first and last message in it
	unreadA, unreadB     int64 // new messages to a and to b
}

// dayCounts are what a batch adds to one day's statistics.
type dayCounts struct {
	messages, senders, newUsers int64
}

// AppendMessages implements store.Store. A batch is one transaction (or
// part of one, see update). It reads the mailboxes and conversations the
// message cache lacks (with one statement each for a batch), then runs one
// statement per new message (a trigger files it in both mailboxes), one per
// conversation (both its rows), and one per day, plus one per new account
// and per sender's first message of a day.
func (db *DB) AppendMessages(ctx context.Context, app uint64, msgs []*store.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	for _, m := range msgs {
		if m == nil || m.From == "" || m.To == "" {
			return errors.New("sqlite: append messages: a message without sender or receiver")
		}
	}
	out := make([]store.Message, len(msgs))
	err := db.updateKeep(ctx, func(t *tx) error {
		c, err := t.cache()
		if err != nil {
			return err
		}
		b := batch{
			t:      t,
			app:    int64(app),
			c:      c,
			convs:  make(map[pair]*convChange),
			days:   make(map[string]*dayCounts, 1),
			sender: make(map[[2]string]bool),
		}
		if len(msgs) >= bulkLoad {
			if err := b.load(msgs); err != nil {
				return err
			}
		}
		for i, m := range msgs {
			if err := b.add(m, &out[i]); err != nil {
				return err
			}
		}
		return b.finish()
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
	t     *tx
	app   int64
	c     *msgCache // the mailboxes and conversation seqs, counting the batch so far
	convs map[pair]*convChange
	order []pair // of convs, first change first
	days  map[string]*dayCounts
	// sender holds the (user, day) pairs of the batch's senders, and
	// senders lists them in order.
	sender  map[[2]string]bool
	senders [][2]string
}

func (b *batch) day(d string) *dayCounts {
	c := b.days[d]
	if c == nil {
		c = new(dayCounts)
		b.days[d] = c
	}
	return c
}

// mailbox returns user's mailbox.
func (b *batch) mailbox(user string) (*mailbox, error) {
	k := boxKey{b.app, user}
	if mb := b.c.boxes[k]; mb != nil {
		return mb, nil
	}
	mb := &mailbox{user: user}
	found, err := b.t.row(b.t.s.mboxGet, []any{&mb.sendDay, &mb.maxSeq}, b.app, user)
	if err != nil {
		return nil, err
	}
	// No account, so an empty mailbox: DeleteUser empties it.
	mb.missing = !found
	b.c.boxes[k] = mb
	return mb, nil
}

// convSeq returns the newest seq of conversation p.
func (b *batch) convSeq(p pair) (int64, error) {
	k := convKey{b.app, p}
	if seq, ok := b.c.convs[k]; ok {
		return seq, nil
	}
	var seq int64
	if _, err := b.t.row(b.t.s.convSeqGet, []any{&seq}, b.app, p.a, p.b); err != nil {
		return 0, err
	}
	b.c.convs[k] = seq
	return seq, nil
}

// bulkLoad is the number of mailboxes or conversations missing from the
// cache from which AppendMessages reads them with one statement each,
// rather than one a mailbox and one a conversation.
const bulkLoad = 4

// load reads the mailboxes and conversation seqs of msgs that the cache
// lacks. User IDs that are not UTF-8 (which JSON can't carry) are left to
// mailbox and convSeq.
func (b *batch) load(msgs []*store.Message) error {
	t := b.t
	var users []string
	var pairs [][2]string
	var seenUser map[string]bool
	var seenPair map[pair]bool
	for _, m := range msgs {
		if !utf8.ValidString(m.From) || !utf8.ValidString(m.To) {
			continue
		}
		for _, u := range [2]string{m.From, m.To} {
			if b.c.boxes[boxKey{b.app, u}] != nil || seenUser[u] {
				continue
			}
			if seenUser == nil {
				seenUser = make(map[string]bool)
			}
			seenUser[u] = true
			users = append(users, u)
		}
		p := pairOf(m.From, m.To)
		if _, ok := b.c.convs[convKey{b.app, p}]; ok || seenPair[p] {
			continue
		}
		if seenPair == nil {
			seenPair = make(map[pair]bool)
		}
		seenPair[p] = true
		pairs = append(pairs, [2]string{p.a, p.b})
	}
	if len(users) >= bulkLoad {
		usersJSON, err := json.Marshal(users)
		if err != nil {
			return err
		}
		var (
			user  string
			found bool
			mb    mailbox
		)
		err = t.rows(t.s.mboxLoad, []any{&user, &found, &mb.sendDay, &mb.maxSeq}, func() error {
			b.c.boxes[boxKey{b.app, user}] = &mailbox{user: user, maxSeq: mb.maxSeq, sendDay: mb.sendDay, missing: !found}
			return nil
		}, b.app, string(usersJSON))
		if err != nil {
			return err
		}
	}
	if len(pairs) < bulkLoad {
		return nil
	}
	pairsJSON, err := json.Marshal(pairs)
	if err != nil {
		return err
	}
	var (
		p   pair
		seq int64
	)
	return t.rows(t.s.convSeqLoad, []any{&p.a, &p.b, &seq}, func() error {
		b.c.convs[convKey{b.app, p}] = seq
		return nil
	}, b.app, string(pairsJSON))
}

// create creates the account of a mailbox, if missing, with message m.
func (b *batch) create(mb *mailbox, m *store.Message) error {
	if !mb.missing {
		return nil
	}
	if _, err := b.t.exec(b.t.s.userAdd, b.app, mb.user, m.Time); err != nil {
		return err
	}
	mb.missing = false
	b.day(sqlrows.MessageDay(m)).newUsers++
	return nil
}

// add stores m, or finds its duplicate, and sets *out to m as stored.
func (b *batch) add(m *store.Message, out *store.Message) error {
	t := b.t
	from, err := b.mailbox(m.From)
	if err != nil {
		return err
	}
	to, err := b.mailbox(m.To)
	if err != nil {
		return err
	}
	p := pairOf(m.From, m.To)
	seq, err := b.convSeq(p)
	if err != nil {
		return err
	}
	self := from == to
	convSeq, fromSeq, toSeq := seq+1, from.maxSeq+1, to.maxSeq+1
	if self {
		toSeq = fromSeq
	}
	body := m.Body
	if body == nil {
		body = []byte{}
	}
	n, err := t.exec(t.s.msgAdd, b.app, p.a, p.b, convSeq, m.From, fromSeq, toSeq,
		m.ID, m.ClientMsgID, int64(m.Random), m.Time, body)
	if err != nil {
		return err
	}
	if n == 0 {
		// It hit the (From, ClientMsgID) index: a duplicate. Answer with
		// the stored message.
		var f sqlrows.Entry
		found, err := t.row(t.s.msgByClientID, f.Dests(), b.app, m.From, m.ClientMsgID)
		if err != nil {
			return err
		}
		if m.ClientMsgID == "" || !found {
			return fmt.Errorf("sqlite: append messages: conversation seq %d of %q and %q is taken", convSeq, p.a, p.b)
		}
		*out = f.Message()
		out.Dup, out.Day = true, m.Day
		return nil
	}

	if err := b.create(from, m); err != nil {
		return err
	}
	if err := b.create(to, m); err != nil {
		return err
	}
	b.c.convs[convKey{b.app, p}] = convSeq
	from.maxSeq = fromSeq
	to.maxSeq = toSeq
	*out = *m
	out.ConvSeq, out.FromSeq, out.ToSeq, out.Dup = uint64(convSeq), uint64(fromSeq), uint64(toSeq), false

	c := b.convs[p]
	if c == nil {
		c = &convChange{first: convSeq}
		b.convs[p] = c
		b.order = append(b.order, p)
	}
	c.convSeq, c.time = convSeq, m.Time
	switch {
	case self:
	case m.To == p.a:
		c.unreadA++
	default:
		c.unreadB++
	}

	d := sqlrows.MessageDay(m)
	b.day(d).messages++
	if k := [2]string{m.From, d}; !b.sender[k] {
		b.sender[k] = true
		b.senders = append(b.senders, k)
	}
	return nil
}

// finish writes the conversations and statistics of the batch.
func (b *batch) finish() error {
	t := b.t
	for _, p := range b.order {
		c := b.convs[p]
		if _, err := t.exec(t.s.convPut, b.app, p.a, p.b, c.convSeq, c.time, c.unreadA, c.unreadB, c.first); err != nil {
			return err
		}
	}
	for _, k := range b.senders {
		user, day := k[0], k[1]
		mb := b.c.boxes[boxKey{b.app, user}]
		if mb.sendDay == day {
			continue
		}
		n, err := t.exec(t.s.daySenderAdd, b.app, day, user)
		if err != nil {
			return err
		}
		b.day(day).senders += n
		if _, err := t.exec(t.s.userSendDay, b.app, user, day); err != nil {
			return err
		}
		mb.sendDay = day
	}
	for day, c := range b.days {
		if _, err := t.exec(t.s.dayMsgs, b.app, day, c.messages, c.senders, c.newUsers); err != nil {
			return err
		}
	}
	return nil
}

// Sync implements store.Store.
func (db *DB) Sync(ctx context.Context, app uint64, owner string, after uint64, limit int) ([]store.Entry, uint64, error) {
	if limit > 0 && after < math.MaxInt64 {
		rows, err := db.rs.sync.QueryContext(ctx, int64(app), owner, int64(after), limit)
		var newest int64
		es, err := scanEntriesNewest(owner, rows, err, &newest)
		if err != nil {
			return nil, 0, err
		}
		if len(es) > 0 {
			return es, uint64(newest), nil
		}
	}
	maxSeq, err := db.MaxSeq(ctx, app, owner)
	return nil, maxSeq, err
}

// MaxSeq implements store.Store.
func (db *DB) MaxSeq(ctx context.Context, app uint64, owner string) (uint64, error) {
	var n int64
	err := db.rs.maxSeq.QueryRowContext(ctx, int64(app), owner).Scan(&n)
	return uint64(n), err
}

// History implements store.Store.
func (db *DB) History(ctx context.Context, app uint64, owner, peer string, before uint64, limit int) ([]store.Entry, error) {
	if limit <= 0 {
		return nil, nil
	}
	b := int64(math.MaxInt64)
	if before > 0 && before < math.MaxInt64 {
		b = int64(before)
	}
	p := pairOf(owner, peer)
	rows, err := db.rs.history.QueryContext(ctx, int64(app), owner, peer, p.a, p.b, b, limit)
	return scanEntries(owner, rows, err)
}

// Conversations implements store.Store.
func (db *DB) Conversations(ctx context.Context, app uint64, owner string, after store.Cursor, limit int) ([]store.Conversation, error) {
	if limit <= 0 {
		return nil, nil
	}
	if after == (store.Cursor{}) {
		after.Time = math.MaxInt64
	}
	rows, err := db.rs.convs.QueryContext(ctx, int64(app), owner, after.Time, after.Peer, limit)
	return scanConvs(owner, rows, err)
}

// UnreadTotal implements store.Store.
func (db *DB) UnreadTotal(ctx context.Context, app uint64, owner string) (int, error) {
	var n int
	err := db.rs.unread.QueryRowContext(ctx, int64(app), owner).Scan(&n)
	return n, err
}

// MarkRead implements store.Store.
func (db *DB) MarkRead(ctx context.Context, app uint64, owner, peer string, convSeq uint64) (store.Conversation, error) {
	var conv store.Conversation
	p := pairOf(owner, peer)
	side := "a_" // owner's side of the convs row; a for oneself
	if owner != p.a {
		side = "b_"
	}
	sql := strings.NewReplacer("x_", side).Replace
	// It changes the read state of a conversation, not its seq: the message
	// cache stays true.
	err := db.updateKeep(ctx, func(t *tx) error {
		var newest, read int64
		found := false
		err := t.rowsSQL(sql(`SELECT conv_seq, x_read FROM convs WHERE app = ?1 AND a = ?2 AND b = ?3 AND x_on`),
			[]any{&newest, &read}, func() error { found = true; return errStop }, int64(app), p.a, p.b)
		if err != nil {
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
		if _, err := t.execSQL(sql(`UPDATE convs SET x_read = ?4, x_unread = (SELECT count(*) FROM messages
				WHERE app = ?1 AND a = ?2 AND b = ?3 AND conv_seq > max(?4, x_since - 1) AND from_user = ?5 AND a <> b)
			WHERE app = ?1 AND a = ?2 AND b = ?3`), int64(app), p.a, p.b, read, peer); err != nil {
			return err
		}
		var f sqlrows.Conversation
		found = false
		err = t.rowsSQL(sql(`SELECT ?4, c.conv_seq, c.x_read, c.x_unread, c.time, `+entryColsM+`
			FROM convs c JOIN messages m ON m.app = c.app AND m.a = c.a AND m.b = c.b AND m.conv_seq = c.conv_seq
			WHERE c.app = ?1 AND c.a = ?2 AND c.b = ?3`),
			f.Dests(), func() error { found = true; return errStop }, int64(app), p.a, p.b, peer)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("sqlite: conversation of %q with %q has no last message", owner, peer)
		}
		conv = f.Conversation(owner)
		return nil
	})
	return conv, err
}

func scanEntries(owner string, rows *sql.Rows, err error) ([]store.Entry, error) {
	return scanEntriesNewest(owner, rows, err, nil)
}

// scanEntriesNewest reads entryCols rows of owner's mailbox, followed by the
// newest seq when newest is not nil.
func scanEntriesNewest(owner string, rows *sql.Rows, err error, newest *int64) ([]store.Entry, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []store.Entry
	for rows.Next() {
		var f sqlrows.Entry
		dests := f.Dests()
		if newest != nil {
			dests = append(dests, newest)
		}
		if err := rows.Scan(dests...); err != nil {
			return nil, err
		}
		es = append(es, f.Entry(owner))
	}
	return es, rows.Err()
}

// scanConvs reads the conversation rows of owner, each with its last
// message's entryCols.
func scanConvs(owner string, rows *sql.Rows, err error) ([]store.Conversation, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []store.Conversation
	for rows.Next() {
		var f sqlrows.Conversation
		if err := rows.Scan(f.Dests()...); err != nil {
			return nil, err
		}
		cs = append(cs, f.Conversation(owner))
	}
	return cs, rows.Err()
}

// DeleteConversation implements store.Store. It turns owner's side off (see
// the convs table), which changes no seq: the message cache stays true.
func (db *DB) DeleteConversation(ctx context.Context, app uint64, owner, peer string) error {
	p := pairOf(owner, peer)
	side := "a_" // owner's side of the convs row; a for oneself
	if owner != p.a {
		side = "b_"
	}
	return db.updateKeep(ctx, func(t *tx) error {
		n, err := t.execSQL(strings.ReplaceAll(`UPDATE convs SET x_on = 0, x_unread = 0 WHERE app = ?1 AND a = ?2 AND b = ?3 AND x_on`, "x_", side),
			int64(app), p.a, p.b)
		if err == nil && n == 0 {
			err = fmt.Errorf("conversation of %q with %q: %w", owner, peer, store.ErrNotFound)
		}
		return err
	})
}
