// Package sqlrows is what the two SQL engines (sqlite and postgres) store
// the same way: times as Unix milliseconds, per-platform instance limits as
// text, the column sets of sessions, mailbox entries and conversations with
// their conversion to store values, and the days of a statistics range.
// Each engine keeps its own SQL; the rows it reads mean the same.
package sqlrows

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
)

// Millis returns t in Unix milliseconds; the zero time is 0.
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMillis returns the UTC time of Unix milliseconds; 0 is the zero time.
func FromMillis(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// TruncMillis returns t as it is read back from the database.
func TruncMillis(t time.Time) time.Time { return FromMillis(Millis(t)) }

// DayLayout is the form of a statistics day.
const DayLayout = "2006-01-02"

// MessageDay returns the statistics day of a message: its Day, or the UTC
// day of its time.
func MessageDay(m *store.Message) string {
	if m.Day != "" {
		return m.Day
	}
	return time.UnixMilli(m.Time).UTC().Format(DayLayout)
}

// FormatLimits encodes per-platform instance limits as "1=3,7=10"
// (platform numbers, ascending).
func FormatLimits(m map[imkit.Platform]int) string {
	ps := make([]imkit.Platform, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(p)))
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(m[p]))
	}
	return b.String()
}

// ParseLimits decodes what FormatLimits encodes.
func ParseLimits(s string) (map[imkit.Platform]int, error) {
	if s == "" {
		return nil, nil
	}
	m := make(map[imkit.Platform]int)
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		p, err1 := strconv.ParseUint(k, 10, 8)
		n, err2 := strconv.Atoi(v)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad instance limits %q", s)
		}
		m[imkit.Platform(p)] = n
	}
	return m, nil
}

// Days returns the statistics of every day from first to last (inclusive),
// oldest first: those in have, zeros for the others.
func Days(first, last string, have map[string]store.DayStats) ([]store.DayStats, error) {
	d0, err := time.Parse(DayLayout, first)
	if err != nil {
		return nil, fmt.Errorf("first day: %w", err)
	}
	d1, err := time.Parse(DayLayout, last)
	if err != nil {
		return nil, fmt.Errorf("last day: %w", err)
	}
	var out []store.DayStats
	for d := d0; !d.After(d1); d = d.AddDate(0, 0, 1) {
		day := d.Format(DayLayout)
		s, ok := have[day]
		if !ok {
			s.Day = day
		}
		out = append(out, s)
	}
	return out, nil
}

// Session is a session row: N (its place in the user's logins), id, app,
// user_id, platform, instance_id, login_at, ticket_time, ticket_expire,
// state, ended_at, kick_reason, kick_platform, kick_at.
type Session struct {
	N, app, platform, loginAt, ticketTime, ticketExpire int64
	state, endedAt, kickReason, kickPlatform, kickAt    int64
	id, userID, instanceID                              string
}

// Dests returns the scan destinations, in column order.
func (f *Session) Dests() []any {
	return []any{&f.N, &f.id, &f.app, &f.userID, &f.platform, &f.instanceID, &f.loginAt,
		&f.ticketTime, &f.ticketExpire, &f.state, &f.endedAt, &f.kickReason, &f.kickPlatform, &f.kickAt}
}

// Session returns the row as a store.Session.
func (f *Session) Session() store.Session {
	s := store.Session{
		ID:           f.id,
		App:          uint64(f.app),
		UserID:       f.userID,
		Platform:     imkit.Platform(f.platform),
		InstanceID:   f.instanceID,
		LoginAt:      FromMillis(f.loginAt),
		TicketTime:   f.ticketTime,
		TicketExpire: f.ticketExpire,
		State:        store.SessionState(f.state),
		EndedAt:      FromMillis(f.endedAt),
	}
	if s.State == store.SessionKicked {
		s.Kick = store.Kick{Reason: imkit.KickReason(f.kickReason), Platform: imkit.Platform(f.kickPlatform), At: FromMillis(f.kickAt)}
	}
	return s
}

// Entry is a message row as a mailbox reads it: a, b (the pair, a <= b),
// conv_seq, from_user, from_seq, to_seq, id, client_msg_id, random, time,
// body.
type Entry struct {
	a, b, from, key                       string
	convSeq, fromSeq, toSeq, random, time int64
	clientID, body                        []byte
}

// Dests returns the scan destinations, in column order.
func (f *Entry) Dests() []any {
	return []any{&f.a, &f.b, &f.convSeq, &f.from, &f.fromSeq, &f.toSeq, &f.key, &f.clientID, &f.random, &f.time, &f.body}
}

// Message returns the row's message.
func (f *Entry) Message() store.Message { return f.Entry("").Message }

// Entry returns the row as owner's store.Entry (Seq: owner's mailbox seq).
func (f *Entry) Entry(owner string) store.Entry {
	to := f.a
	if f.from == f.a {
		to = f.b
	}
	e := store.Entry{Message: store.Message{
		ID:          f.key,
		ClientMsgID: string(f.clientID),
		From:        f.from,
		To:          to,
		Random:      uint32(f.random),
		Time:        f.time,
		ConvSeq:     uint64(f.convSeq),
		FromSeq:     uint64(f.fromSeq),
		ToSeq:       uint64(f.toSeq),
	}}
	if len(f.body) > 0 {
		e.Body = f.body // both drivers scan into a new slice for each row
	}
	e.Seq = e.ToSeq
	if owner == f.from {
		e.Seq = e.FromSeq
	}
	return e
}

// Conversation is a conversation row as one side reads it: peer, conv_seq,
// read, unread, time, then the Entry columns of the last message.
type Conversation struct {
	peer                        string
	convSeq, read, unread, time int64
	last                        Entry
}

// Dests returns the scan destinations, in column order.
func (f *Conversation) Dests() []any {
	return append([]any{&f.peer, &f.convSeq, &f.read, &f.unread, &f.time}, f.last.Dests()...)
}

// Conversation returns the row as owner's store.Conversation.
func (f *Conversation) Conversation(owner string) store.Conversation {
	return store.Conversation{
		Peer:    f.peer,
		Last:    f.last.Entry(owner),
		ConvSeq: uint64(f.convSeq),
		ReadSeq: uint64(f.read),
		Unread:  int(f.unread),
		Time:    f.time,
	}
}
