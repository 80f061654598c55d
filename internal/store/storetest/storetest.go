// Package storetest is the conformance suite of store.Store: every storage
// engine (sqlite, postgres) runs Run against itself and must pass all of it.
//
// Each subtest gets a new, empty store from open, which closes it in its own
// t.Cleanup. Times are compared with millisecond precision, as the stores
// keep them.
package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
)

// Run runs the conformance suite against the stores open makes.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Apps", testApps},
		{"UpdateApp", testUpdateApp},
		{"ImportUser", testImportUser},
		{"DeleteUser", testDeleteUser},
		{"DeleteRevokes", testDeleteRevokes},
		{"LoginCreatesUser", testLoginCreatesUser},
		{"LoginDecideSeesActive", testLoginDecideSeesActive},
		{"LoginKicks", testLoginKicks},
		{"LoginDecideError", testLoginDecideError},
		{"LoginStats", testLoginStats},
		{"LoginConcurrent", testLoginConcurrent},
		{"LoginDuplicateSession", testLoginDuplicateSession},
		{"LoginMaxSeq", testLoginMaxSeq},
		{"EndSession", testEndSession},
		{"RenewSession", testRenewSession},
		{"KickUser", testKickUser},
		{"KickedSince", testKickedSince},
		{"PurgeSessions", testPurgeSessions},
		{"DayStats", testDayStats},
		{"AppendSeqs", testAppendSeqs},
		{"AppendCreatesUsers", testAppendCreatesUsers},
		{"AppendDedup", testAppendDedup},
		{"AppendStats", testAppendStats},
		{"AppendToSelf", testAppendToSelf},
		{"Sync", testSync},
		{"History", testHistory},
		{"Conversations", testConversations},
		{"ConversationsPaging", testConversationsPaging},
		{"MarkRead", testMarkRead},
		{"DeleteConversation", testDeleteConversation},
		{"AppIsolation", testAppIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// Fixtures.

const (
	app1 uint64 = 1400000001
	app2 uint64 = 1400000002
)

// t0 has a sub-millisecond part, which the stores drop.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589_793_238, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// ms returns t as a store gives it back.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// day and month of t0.
const (
	day0   = "2025-03-14"
	month0 = "2025-03"
)

var errBoom = errors.New("boom")

// opts compare store values: nil and empty slices and maps are equal, times
// are compared as instants.
var opts = []cmp.Option{cmpopts.EquateEmpty()}

// diff reports a difference between got and want.
func diff(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func createApp(t *testing.T, s store.Store, id uint64) store.App {
	t.Helper()
	a := store.App{
		SDKAppID:  id,
		Key:       fmt.Sprintf("key-%d", id),
		Admin:     "administrator",
		Policy:    imkit.PolicyDual,
		CreatedAt: t0,
	}
	must(t, s.CreateApp(t.Context(), a))
	return a
}

// session returns a new session of user on platform at time at.
func session(app uint64, user, id string, p imkit.Platform, at time.Time) store.Session {
	return store.Session{
		ID:           id,
		App:          app,
		UserID:       user,
		Platform:     p,
		InstanceID:   "inst-" + id,
		LoginAt:      at,
		TicketTime:   at.Unix() - 60,
		TicketExpire: at.Unix() + 86400,
	}
}

// active is a session as the store holds it while active.
func active(s store.Session) store.Session {
	s.State = store.SessionActive
	s.LoginAt = ms(s.LoginAt)
	return s
}

// kicked is a session as the store holds it once kicked with k.
func kicked(s store.Session, k store.Kick) store.Session {
	s = active(s)
	s.State = store.SessionKicked
	s.EndedAt = ms(k.At)
	s.Kick = store.Kick{Reason: k.Reason, Platform: k.Platform, At: ms(k.At)}
	return s
}

// keepAll is a Decide that kicks nothing.
func keepAll(store.User, []store.Session) ([]store.Kicked, error) { return nil, nil }

// login logs a session in on day0 with decide (nil: keepAll).
func login(t *testing.T, s store.Store, sess store.Session, decide func(store.User, []store.Session) ([]store.Kicked, error)) store.LoginResult {
	t.Helper()
	return loginOn(t, s, sess, day0, month0, decide)
}

func loginOn(t *testing.T, s store.Store, sess store.Session, day, month string, decide func(store.User, []store.Session) ([]store.Kicked, error)) store.LoginResult {
	t.Helper()
	if decide == nil {
		decide = keepAll
	}
	r, err := s.Login(t.Context(), store.LoginParams{Session: sess, Day: day, Month: month, Decide: decide})
	if err != nil {
		t.Fatalf("Login(%s): %v", sess.ID, err)
	}
	return r
}

func getSession(t *testing.T, s store.Store, id string) store.Session {
	t.Helper()
	got, err := s.Session(t.Context(), id)
	if err != nil {
		t.Fatalf("Session(%s): %v", id, err)
	}
	return got
}

func activeSessions(t *testing.T, s store.Store, app uint64, users ...string) []store.Session {
	t.Helper()
	got, err := s.ActiveSessions(t.Context(), app, users)
	if err != nil {
		t.Fatalf("ActiveSessions(%v): %v", users, err)
	}
	return got
}

func dayStats(t *testing.T, s store.Store, app uint64, first, last string) []store.DayStats {
	t.Helper()
	got, err := s.DayStats(t.Context(), app, first, last)
	if err != nil {
		t.Fatalf("DayStats(%s, %s): %v", first, last, err)
	}
	return got
}

// msg returns a new message from from to to at t0 plus d, with client
// message ID cid.
func msg(from, to, cid string, d time.Duration) *store.Message {
	tm := at(d).UnixMilli()
	return &store.Message{
		ID:          fmt.Sprintf("%s-%s-%d-%s", from, to, tm, cid),
		ClientMsgID: cid,
		From:        from,
		To:          to,
		Random:      uint32(tm),
		Time:        tm,
		Body:        []byte(fmt.Sprintf(`[{"MsgType":"TIMTextElem","MsgContent":{"Text":"%s to %s at %d"}}]`, from, to, tm)),
	}
}

// stored is m as AppendMessages sets it.
func stored(m *store.Message, convSeq, fromSeq, toSeq uint64) store.Message {
	c := *m
	c.ConvSeq, c.FromSeq, c.ToSeq, c.Dup = convSeq, fromSeq, toSeq, false
	return c
}

// entryOf is stored message m as owner's mailbox holds it.
func entryOf(owner string, m store.Message) store.Entry {
	e := store.Entry{Message: m}
	if owner == m.From {
		e.Seq = m.FromSeq
	} else {
		e.Seq = m.ToSeq
	}
	return e
}

func appendMsgs(t *testing.T, s store.Store, app uint64, msgs ...*store.Message) []store.Message {
	t.Helper()
	if err := s.AppendMessages(t.Context(), app, msgs); err != nil {
		t.Fatalf("AppendMessages: %v", err)
	}
	out := make([]store.Message, len(msgs))
	for i, m := range msgs {
		out[i] = *m
	}
	return out
}

func syncAll(t *testing.T, s store.Store, app uint64, owner string) []store.Entry {
	t.Helper()
	es, _, err := s.Sync(t.Context(), app, owner, 0, 1000)
	if err != nil {
		t.Fatalf("Sync(%s): %v", owner, err)
	}
	return es
}

func conversations(t *testing.T, s store.Store, app uint64, owner string, after store.Cursor, limit int) []store.Conversation {
	t.Helper()
	cs, err := s.Conversations(t.Context(), app, owner, after, limit)
	if err != nil {
		t.Fatalf("Conversations(%s, %+v, %d): %v", owner, after, limit, err)
	}
	return cs
}
