package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
)

func testAppendSeqs(t *testing.T, s store.Store) {
	createApp(t, s, app1)
	batch := []*store.Message{
		msg("alice", "bob", "c1", 1*time.Second),
		msg("bob", "alice", "c2", 2*time.Second),
		msg("alice", "carol", "c3", 3*time.Second),
		msg("carol", "alice", "c4", 4*time.Second),
		msg("alice", "bob", "c5", 5*time.Second),
	}
	in := make([]*store.Message, len(batch))
	for i, m := range batch {
		c := *m
		in[i] = &c
	}
	got := appendMsgs(t, s, app1, batch...)
	want := []store.Message{
		stored(in[0], 1, 1, 1),
		stored(in[1], 2, 2, 2),
		stored(in[2], 1, 3, 1),
		stored(in[3], 2, 2, 4),
		stored(in[4], 3, 5, 3),
	}
	diff(t, "first batch", got, want)

	m6 := msg("bob", "alice", "c6", 6*time.Second)
	m7 := msg("dave", "carol", "c7", 7*time.Second)
	got = appendMsgs(t, s, app1, m6, m7)
	w6, w7 := stored(m6, 4, 4, 6), stored(m7, 1, 1, 3)
	diff(t, "second batch", got, []store.Message{w6, w7})
	want = append(want, w6, w7)

	// Each mailbox holds its messages, seqs 1, 2, 3... without gaps.
	for _, owner := range []string{"alice", "bob", "carol", "dave"} {
		var wantBox []store.Entry
		for _, m := range want {
			if m.From == owner || m.To == owner {
				wantBox = append(wantBox, entryOf(owner, m))
			}
		}
		box := syncAll(t, s, app1, owner)
		diff(t, owner+"'s mailbox", box, wantBox)
		for i, e := range box {
			if e.Seq != uint64(i+1) {
				t.Errorf("%s's mailbox: entry %d has seq %d, want %d", owner, i, e.Seq, i+1)
			}
		}
	}
}

func testAppendCreatesUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	login(t, s, session(app1, "alice", "s1", imkit.PlatformWeb, t0), nil)
	appendMsgs(t, s, app1, msg("alice", "bob", "c1", time.Second), msg("carol", "dave", "c2", 2*time.Second))
	for _, u := range []struct {
		id string
		at time.Time
	}{{"alice", t0}, {"bob", at(time.Second)}, {"carol", at(2 * time.Second)}, {"dave", at(2 * time.Second)}} {
		got, err := s.User(ctx, app1, u.id)
		if err != nil {
			t.Errorf("User(%s): %v", u.id, err)
			continue
		}
		diff(t, "User "+u.id, got, store.User{App: app1, UserID: u.id, CreatedAt: ms(u.at)})
	}
	// bob signs up already created.
	if r := login(t, s, session(app1, "bob", "s2", imkit.PlatformWeb, at(time.Hour)), nil); r.Created {
		t.Errorf("first Login of a user who received a message: Created = true, want false")
	}
	diff(t, "DayStats", dayStats(t, s, app1, day0, day0),
		[]store.DayStats{{Day: day0, ActiveUsers: 2, Logins: 2, NewUsers: 4, Messages: 2, Senders: 2}})
}

func testAppendDedup(t *testing.T, s store.Store) {
	createApp(t, s, app1)
	m1 := msg("alice", "bob", "x", time.Second)
	m2 := msg("alice", "bob", "x", 2*time.Second) // the same client message, sent again in the batch
	m2.Body = []byte(`"other"`)
	m3 := msg("alice", "bob", "", 3*time.Second) // no client message ID: never a duplicate
	m4 := msg("alice", "bob", "", 4*time.Second)
	m5 := msg("bob", "alice", "x", 5*time.Second) // another sender's "x"
	w1 := stored(m1, 1, 1, 1)
	got := appendMsgs(t, s, app1, m1, m2, m3, m4, m5)
	dup := w1
	dup.Dup = true
	diff(t, "first batch", got, []store.Message{w1, dup, stored(m3, 2, 2, 2), stored(m4, 3, 3, 3), stored(m5, 4, 4, 4)})

	// Sent again later, even to someone else: the first one answers.
	m6 := msg("alice", "carol", "x", time.Minute)
	m7 := msg("alice", "bob", "y", 2*time.Minute)
	got = appendMsgs(t, s, app1, m6, m7)
	diff(t, "second batch", got, []store.Message{dup, stored(m7, 5, 5, 5)})

	if n := len(syncAll(t, s, app1, "alice")); n != 5 {
		t.Errorf("alice's mailbox holds %d messages, want 5", n)
	}
	if n := len(syncAll(t, s, app1, "bob")); n != 5 {
		t.Errorf("bob's mailbox holds %d messages, want 5", n)
	}
	if box := syncAll(t, s, app1, "carol"); len(box) != 0 {
		t.Errorf("carol's mailbox holds %d messages, want none", len(box))
	}
	cs := conversations(t, s, app1, "bob", store.Cursor{}, 10)
	if len(cs) != 1 || cs[0].Unread != 4 {
		t.Errorf("bob's conversations = %+v, want one with 4 unread", cs)
	}
	diff(t, "DayStats", dayStats(t, s, app1, day0, day0),
		[]store.DayStats{{Day: day0, NewUsers: 2, Messages: 5, Senders: 2}})
}

func testAppendStats(t *testing.T, s store.Store) {
	createApp(t, s, app1)
	day1 := time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC).Sub(t0) // midnight UTC after t0
	appendMsgs(t, s, app1,
		msg("alice", "bob", "", time.Second),
		msg("alice", "bob", "", 2*time.Second),
		msg("bob", "alice", "", 3*time.Second),
		msg("alice", "carol", "", day1-time.Millisecond), // the last millisecond of the day
		msg("alice", "carol", "", day1),
	)
	appendMsgs(t, s, app1, msg("carol", "alice", "", day1+time.Hour), msg("alice", "bob", "", day1+2*time.Hour))
	appendMsgs(t, s, app1, msg("alice", "bob", "", 4*time.Second)) // late
	// The caller's day, as in another time zone, comes first.
	m := msg("dave", "alice", "", 5*time.Second)
	m.Day = "2025-03-16"
	if got := appendMsgs(t, s, app1, m)[0].Day; got != "2025-03-16" {
		t.Errorf("Day after AppendMessages = %q, want it kept", got)
	}
	diff(t, "DayStats", dayStats(t, s, app1, "2025-03-14", "2025-03-16"), []store.DayStats{
		{Day: "2025-03-14", NewUsers: 3, Messages: 5, Senders: 2},
		{Day: "2025-03-15", Messages: 3, Senders: 2},
		{Day: "2025-03-16", NewUsers: 1, Messages: 1, Senders: 1},
	})
}

func testAppendToSelf(t *testing.T, s store.Store) {
	createApp(t, s, app1)
	m1 := msg("alice", "alice", "c1", time.Second)
	m2 := msg("alice", "bob", "c2", 2*time.Second)
	m3 := msg("alice", "alice", "c3", 3*time.Second)
	got := appendMsgs(t, s, app1, m1, m2, m3)
	w1, w2, w3 := stored(m1, 1, 1, 1), stored(m2, 1, 2, 1), stored(m3, 2, 3, 3)
	diff(t, "messages", got, []store.Message{w1, w2, w3})
	diff(t, "alice's mailbox", syncAll(t, s, app1, "alice"),
		[]store.Entry{entryOf("alice", w1), entryOf("alice", w2), entryOf("alice", w3)})
	diff(t, "alice's conversations", conversations(t, s, app1, "alice", store.Cursor{}, 10), []store.Conversation{
		{Peer: "alice", Last: entryOf("alice", w3), ConvSeq: 2, Time: w3.Time},
		{Peer: "bob", Last: entryOf("alice", w2), ConvSeq: 1, Time: w2.Time},
	})
	again := msg("alice", "alice", "c1", time.Minute)
	dup := w1
	dup.Dup = true
	diff(t, "a duplicate", appendMsgs(t, s, app1, again), []store.Message{dup})
}

func testSync(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	var all []store.Message
	for i := range 5 {
		from, to := "alice", "bob"
		if i%2 == 1 {
			from, to = "bob", "alice"
		}
		all = append(all, appendMsgs(t, s, app1, msg(from, to, fmt.Sprint("c", i), time.Duration(i)*time.Second))...)
	}
	all = append(all, appendMsgs(t, s, app1, msg("carol", "bob", "c9", time.Minute))...)
	entries := func(owner string, ms ...store.Message) []store.Entry {
		var es []store.Entry
		for _, m := range ms {
			es = append(es, entryOf(owner, m))
		}
		return es
	}
	for _, tc := range []struct {
		owner      string
		after      uint64
		limit      int
		want       []store.Entry
		wantMaxSeq uint64
	}{
		{"alice", 0, 10, entries("alice", all[:5]...), 5},
		{"alice", 2, 2, entries("alice", all[2:4]...), 5},
		{"alice", 4, 10, entries("alice", all[4]), 5},
		{"alice", 5, 10, nil, 5},
		{"alice", 9, 10, nil, 5},
		{"alice", 0, 0, nil, 5},
		{"bob", 3, 10, entries("bob", all[3:]...), 6},
		{"nobody", 0, 10, nil, 0},
	} {
		got, maxSeq, err := s.Sync(ctx, app1, tc.owner, tc.after, tc.limit)
		must(t, err)
		diff(t, fmt.Sprintf("Sync(%s, after %d, limit %d)", tc.owner, tc.after, tc.limit), got, tc.want)
		if maxSeq != tc.wantMaxSeq {
			t.Errorf("Sync(%s, after %d, limit %d): maxSeq = %d, want %d", tc.owner, tc.after, tc.limit, maxSeq, tc.wantMaxSeq)
		}
	}
	for owner, want := range map[string]uint64{"alice": 5, "bob": 6, "carol": 1, "nobody": 0} {
		got, err := s.MaxSeq(ctx, app1, owner)
		must(t, err)
		if got != want {
			t.Errorf("MaxSeq(%s) = %d, want %d", owner, got, want)
		}
	}
}

func testHistory(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	var ab, ac []store.Message // alice's conversations with bob and carol
	for i := range 5 {
		ab = append(ab, appendMsgs(t, s, app1, msg("alice", "bob", fmt.Sprint("b", i), time.Duration(2*i)*time.Second))...)
		ac = append(ac, appendMsgs(t, s, app1, msg("carol", "alice", fmt.Sprint("c", i), time.Duration(2*i+1)*time.Second))...)
	}
	newestFirst := func(owner string, ms ...store.Message) []store.Entry {
		var es []store.Entry
		for i := len(ms) - 1; i >= 0; i-- {
			es = append(es, entryOf(owner, ms[i]))
		}
		return es
	}
	for _, tc := range []struct {
		owner, peer string
		before      uint64
		limit       int
		want        []store.Entry
	}{
		{"alice", "bob", 0, 10, newestFirst("alice", ab...)},
		{"alice", "bob", 0, 2, newestFirst("alice", ab[3:]...)},
		{"alice", "bob", 4, 2, newestFirst("alice", ab[1:3]...)},
		{"alice", "bob", 2, 10, newestFirst("alice", ab[0])},
		{"alice", "bob", 1, 10, nil},
		{"alice", "bob", 0, 0, nil},
		{"bob", "alice", 0, 10, newestFirst("bob", ab...)},
		{"alice", "carol", 3, 10, newestFirst("alice", ac[:2]...)},
		{"alice", "nobody", 0, 10, nil},
		{"carol", "bob", 0, 10, nil},
	} {
		got, err := s.History(ctx, app1, tc.owner, tc.peer, tc.before, tc.limit)
		must(t, err)
		diff(t, fmt.Sprintf("History(%s, %s, before %d, limit %d)", tc.owner, tc.peer, tc.before, tc.limit), got, tc.want)
	}
}

func testConversations(t *testing.T, s store.Store) {
	createApp(t, s, app1)
	sent := appendMsgs(t, s, app1,
		msg("bob", "alice", "", time.Second),
		msg("bob", "alice", "", 2*time.Second),
		msg("alice", "carol", "", 3*time.Second),
		msg("alice", "bob", "", 4*time.Second),
	)
	got := conversations(t, s, app1, "alice", store.Cursor{}, 10)
	diff(t, "alice's conversations", got, []store.Conversation{
		{Peer: "bob", Last: entryOf("alice", sent[3]), ConvSeq: 3, Unread: 2, Time: sent[3].Time},
		{Peer: "carol", Last: entryOf("alice", sent[2]), ConvSeq: 1, Time: sent[2].Time},
	})
	diff(t, "bob's conversations", conversations(t, s, app1, "bob", store.Cursor{}, 10), []store.Conversation{
		{Peer: "alice", Last: entryOf("bob", sent[3]), ConvSeq: 3, Unread: 1, Time: sent[3].Time},
	})
	diff(t, "carol's conversations", conversations(t, s, app1, "carol", store.Cursor{}, 10), []store.Conversation{
		{Peer: "alice", Last: entryOf("carol", sent[2]), ConvSeq: 1, Unread: 1, Time: sent[2].Time},
	})

	// A new message moves its conversation to the top.
	m := appendMsgs(t, s, app1, msg("carol", "alice", "", time.Minute))[0]
	diff(t, "alice's conversations after carol wrote", conversations(t, s, app1, "alice", store.Cursor{}, 10), []store.Conversation{
		{Peer: "carol", Last: entryOf("alice", m), ConvSeq: 2, Unread: 1, Time: m.Time},
		{Peer: "bob", Last: entryOf("alice", sent[3]), ConvSeq: 3, Unread: 2, Time: sent[3].Time},
	})
	diff(t, "conversations of nobody", conversations(t, s, app1, "nobody", store.Cursor{}, 10), []store.Conversation(nil))
	diff(t, "conversations with limit 0", conversations(t, s, app1, "alice", store.Cursor{}, 0), []store.Conversation(nil))
}

func testConversationsPaging(t *testing.T, s store.Store) {
	createApp(t, s, app1)
	// alice talks to p0..p9; p3..p7 at the same time.
	times := []time.Duration{1, 2, 3, 5, 5, 5, 5, 5, 8, 9}
	var msgs []*store.Message
	for i, d := range times {
		msgs = append(msgs, msg("alice", fmt.Sprint("p", i), "", d*time.Second))
	}
	appendMsgs(t, s, app1, msgs...)
	wantOrder := []string{"p9", "p8", "p7", "p6", "p5", "p4", "p3", "p2", "p1", "p0"}
	all := conversations(t, s, app1, "alice", store.Cursor{}, 100)
	var peers []string
	for _, c := range all {
		peers = append(peers, c.Peer)
	}
	diff(t, "all conversations", peers, wantOrder)

	for _, limit := range []int{1, 2, 3, 4} {
		var paged []string
		var cursor store.Cursor
		for range 20 {
			page := conversations(t, s, app1, "alice", cursor, limit)
			if len(page) > limit {
				t.Fatalf("a page of %d conversations, limit %d", len(page), limit)
			}
			if len(page) == 0 {
				break
			}
			for _, c := range page {
				paged = append(paged, c.Peer)
			}
			last := page[len(page)-1]
			cursor = store.Cursor{Time: last.Time, Peer: last.Peer}
		}
		diff(t, fmt.Sprintf("conversations paged by %d", limit), paged, wantOrder)
	}
}

func testMarkRead(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	sent := appendMsgs(t, s, app1,
		msg("bob", "alice", "", 1*time.Second), // conv seq 1
		msg("bob", "alice", "", 2*time.Second), // 2
		msg("bob", "alice", "", 3*time.Second), // 3
		msg("alice", "bob", "", 4*time.Second), // 4
		msg("bob", "alice", "", 5*time.Second), // 5
	)
	last := entryOf("alice", sent[4])
	mark := func(convSeq uint64, want store.Conversation) {
		t.Helper()
		got, err := s.MarkRead(ctx, app1, "alice", "bob", convSeq)
		must(t, err)
		diff(t, fmt.Sprintf("MarkRead(%d)", convSeq), got, want)
		diff(t, fmt.Sprintf("Conversations after MarkRead(%d)", convSeq),
			conversations(t, s, app1, "alice", store.Cursor{}, 10), []store.Conversation{want})
	}
	conv := store.Conversation{Peer: "bob", Last: last, ConvSeq: 5, Time: last.Time}
	c := conv
	c.ReadSeq, c.Unread = 2, 2 // 3 and 5; 4 is alice's own
	mark(2, c)
	mark(1, c) // never goes down
	c.ReadSeq, c.Unread = 5, 0
	mark(0, c)

	m := appendMsgs(t, s, app1, msg("bob", "alice", "", 6*time.Second))[0]
	c = store.Conversation{Peer: "bob", Last: entryOf("alice", m), ConvSeq: 6, ReadSeq: 5, Unread: 1, Time: m.Time}
	diff(t, "Conversations after a new message", conversations(t, s, app1, "alice", store.Cursor{}, 10), []store.Conversation{c})
	c.ReadSeq, c.Unread = 6, 0
	mark(100, c) // beyond the newest: all

	// bob's side is his own.
	diff(t, "bob's conversations", conversations(t, s, app1, "bob", store.Cursor{}, 10), []store.Conversation{
		{Peer: "alice", Last: entryOf("bob", m), ConvSeq: 6, Unread: 1, Time: m.Time},
	})
	_, err := s.MarkRead(ctx, app1, "alice", "nobody", 0)
	wantErr(t, "MarkRead(no conversation)", err, store.ErrNotFound)
	_, err = s.MarkRead(ctx, app2, "alice", "bob", 0)
	wantErr(t, "MarkRead(other app)", err, store.ErrNotFound)
}

func testAppIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	createApp(t, s, app2)
	a1 := session(app1, "alice", "s1", imkit.PlatformWeb, t0)
	a2 := session(app2, "alice", "s2", imkit.PlatformWeb, t0)
	if r := login(t, s, a1, nil); !r.Created {
		t.Errorf("first login in app1: Created = false")
	}
	var saw []store.Session
	r := login(t, s, a2, func(u store.User, ss []store.Session) ([]store.Kicked, error) {
		saw = ss
		return nil, nil
	})
	if !r.Created {
		t.Errorf("first login in app2: Created = false")
	}
	diff(t, "sessions Decide saw in app2", saw, []store.Session(nil))
	diff(t, "ActiveSessions(app2)", activeSessions(t, s, app2, "alice"), []store.Session{active(a2)})

	m1 := appendMsgs(t, s, app1, msg("alice", "bob", "x", time.Second))[0]
	m2 := appendMsgs(t, s, app2, msg("alice", "bob", "x", 2*time.Second))[0]
	if m2.Dup || m2.FromSeq != 1 || m2.ConvSeq != 1 {
		t.Errorf("the same message in another app = %+v, want a new one with seqs 1", m2)
	}
	diff(t, "app1 mailbox", syncAll(t, s, app1, "bob"), []store.Entry{entryOf("bob", m1)})
	diff(t, "app2 mailbox", syncAll(t, s, app2, "bob"), []store.Entry{entryOf("bob", m2)})
	h, err := s.History(ctx, app2, "alice", "bob", 0, 10)
	must(t, err)
	diff(t, "app2 history", h, []store.Entry{entryOf("alice", m2)})
	if cs := conversations(t, s, app2, "alice", store.Cursor{}, 10); len(cs) != 1 || cs[0].Last.ID != m2.ID {
		t.Errorf("app2 conversations = %+v, want the one with m2", cs)
	}

	k := store.Kick{Reason: imkit.KickAdmin, At: at(time.Minute)}
	kickedSessions, err := s.KickUser(ctx, app1, "alice", k, 100)
	must(t, err)
	diff(t, "KickUser(app1)", kickedSessions, []store.Session{kicked(a1, k)})
	diff(t, "ActiveSessions(app2) after a kick in app1", activeSessions(t, s, app2, "alice"), []store.Session{active(a2)})
	u, err := s.User(ctx, app2, "alice")
	must(t, err)
	if u.RevokedBefore != 0 {
		t.Errorf("app2 user's RevokedBefore = %d after a kick in app1, want 0", u.RevokedBefore)
	}
	must(t, s.DeleteUser(ctx, app1, "bob", at(time.Hour)))
	if _, err := s.User(ctx, app2, "bob"); err != nil {
		t.Errorf("User(app2, bob) after DeleteUser in app1: %v", err)
	}
	must(t, s.RecordPeakOnline(ctx, app2, day0, 9))
	diff(t, "app1 DayStats", dayStats(t, s, app1, day0, day0),
		[]store.DayStats{{Day: day0, ActiveUsers: 1, Logins: 1, NewUsers: 2, Messages: 1, Senders: 1}})
	diff(t, "app2 DayStats", dayStats(t, s, app2, day0, day0),
		[]store.DayStats{{Day: day0, ActiveUsers: 1, Logins: 1, NewUsers: 2, Messages: 1, Senders: 1, PeakOnline: 9}})
	for _, app := range []uint64{app1, app2} {
		n, err := s.MonthActiveUsers(ctx, app, month0)
		must(t, err)
		if n != 1 {
			t.Errorf("MonthActiveUsers(%d) = %d, want 1", app, n)
		}
	}
}

func testLoginMaxSeq(t *testing.T, s store.Store) {
	createApp(t, s, app1)
	createApp(t, s, app2)
	if r := login(t, s, session(app1, "alice", "s1", imkit.PlatformWeb, t0), nil); r.MaxSeq != 0 {
		t.Errorf("first login: MaxSeq = %d, want 0", r.MaxSeq)
	}
	appendMsgs(t, s, app1, msg("alice", "bob", "x", time.Second))
	appendMsgs(t, s, app1, msg("bob", "alice", "y", 2*time.Second))
	appendMsgs(t, s, app2, msg("alice", "bob", "z", 3*time.Second))
	if r := login(t, s, session(app1, "alice", "s2", imkit.PlatformWeb, t0.Add(time.Minute)), nil); r.MaxSeq != 2 {
		t.Errorf("login after two messages: MaxSeq = %d, want 2", r.MaxSeq)
	}
	if r := login(t, s, session(app2, "alice", "s3", imkit.PlatformWeb, t0.Add(time.Minute)), nil); r.MaxSeq != 1 {
		t.Errorf("login in another app: MaxSeq = %d, want 1", r.MaxSeq)
	}
	if r := login(t, s, session(app1, "carol", "s4", imkit.PlatformWeb, t0.Add(time.Minute)), nil); r.MaxSeq != 0 {
		t.Errorf("login of a user with an empty mailbox: MaxSeq = %d, want 0", r.MaxSeq)
	}
}

func testDeleteConversation(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	sent := appendMsgs(t, s, app1,
		msg("bob", "alice", "", 1*time.Second),
		msg("alice", "bob", "", 2*time.Second),
		msg("bob", "alice", "", 3*time.Second),
		msg("carol", "alice", "", 4*time.Second),
	)
	unreadTotal := func(owner string, want int) {
		t.Helper()
		n, err := s.UnreadTotal(ctx, app1, owner)
		must(t, err)
		if n != want {
			t.Fatalf("UnreadTotal(%s) = %d, want %d", owner, n, want)
		}
	}
	unreadTotal("alice", 3)
	unreadTotal("bob", 1)
	unreadTotal("nobody", 0)
	must(t, s.DeleteConversation(ctx, app1, "alice", "bob"))
	unreadTotal("alice", 1) // carol's
	unreadTotal("bob", 1)
	last := entryOf("alice", sent[3])
	diff(t, "alice's conversations after deleting bob's", conversations(t, s, app1, "alice", store.Cursor{}, 10),
		[]store.Conversation{{Peer: "carol", Last: last, ConvSeq: 1, Unread: 1, Time: last.Time}})
	h, err := s.History(ctx, app1, "alice", "bob", 0, 10)
	must(t, err)
	diff(t, "alice's history with bob after deleting it", h, []store.Entry(nil))
	_, err = s.MarkRead(ctx, app1, "alice", "bob", 0)
	wantErr(t, "MarkRead(deleted)", err, store.ErrNotFound)
	wantErr(t, "DeleteConversation(again)", s.DeleteConversation(ctx, app1, "alice", "bob"), store.ErrNotFound)
	wantErr(t, "DeleteConversation(none)", s.DeleteConversation(ctx, app1, "alice", "nobody"), store.ErrNotFound)
	wantErr(t, "DeleteConversation(other app)", s.DeleteConversation(ctx, app2, "bob", "alice"), store.ErrNotFound)

	// bob's side is untouched.
	h, err = s.History(ctx, app1, "bob", "alice", 0, 10)
	must(t, err)
	if len(h) != 3 {
		t.Fatalf("bob's history with alice has %d messages, want 3", len(h))
	}
	// The mailbox keeps its seqs; the next message starts alice's side
	// afresh: only it, unread.
	maxSeq, err := s.MaxSeq(ctx, app1, "alice")
	must(t, err)
	m := appendMsgs(t, s, app1, msg("bob", "alice", "", 5*time.Second))[0]
	if m.ToSeq != maxSeq+1 {
		t.Fatalf("the next message has seq %d in alice's mailbox, want %d", m.ToSeq, maxSeq+1)
	}
	e := entryOf("alice", m)
	diff(t, "alice's conversation with bob made again", conversations(t, s, app1, "alice", store.Cursor{}, 1),
		[]store.Conversation{{Peer: "bob", Last: e, ConvSeq: 4, Unread: 1, Time: e.Time}})
	h, err = s.History(ctx, app1, "alice", "bob", 0, 10)
	must(t, err)
	diff(t, "alice's history with bob made again", h, []store.Entry{e})
	unreadTotal("alice", 2)
	_, err = s.MarkRead(ctx, app1, "alice", "carol", 0)
	must(t, err)
	unreadTotal("alice", 1)
}
