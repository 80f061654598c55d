package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
)

func testLoginCreatesUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	s1 := session(app1, "alice", "s1", imkit.PlatformIPhone, t0)

	wantUser := store.User{App: app1, UserID: "alice", CreatedAt: ms(t0)}
	var decided []store.User
	decide := func(u store.User, active []store.Session) ([]store.Kicked, error) {
		decided = append(decided, u)
		return nil, nil
	}
	r := login(t, s, s1, decide)
	diff(t, "first LoginResult", r, store.LoginResult{User: wantUser, Created: true})
	diff(t, "Session", getSession(t, s, "s1"), active(s1))
	got, err := s.User(ctx, app1, "alice")
	must(t, err)
	diff(t, "User", got, wantUser)

	r = login(t, s, session(app1, "alice", "s2", imkit.PlatformWeb, at(time.Hour)), decide)
	diff(t, "second LoginResult", r, store.LoginResult{User: wantUser})
	diff(t, "users Decide saw", decided, []store.User{wantUser, wantUser})
}

func testLoginDecideSeesActive(t *testing.T, s store.Store) {
	createApp(t, s, app1)
	// Logged in out of time order; two at the same time (then by login order).
	s1 := session(app1, "alice", "s1", imkit.PlatformAndroid, at(2*time.Second))
	s2 := session(app1, "alice", "s2", imkit.PlatformWeb, t0)
	s3 := session(app1, "alice", "s3", imkit.PlatformMac, at(2*time.Second))
	s4 := session(app1, "alice", "s4", imkit.PlatformIPad, at(time.Second))
	other := session(app1, "bob", "s5", imkit.PlatformWeb, t0)
	for _, ss := range []store.Session{s1, s2, s3, s4, other} {
		login(t, s, ss, nil)
	}
	gone := session(app1, "alice", "s6", imkit.PlatformLinux, t0)
	login(t, s, gone, nil)
	if _, err := s.EndSession(t.Context(), "s6", store.SessionExpired, at(time.Minute)); err != nil {
		t.Fatal(err)
	}

	want := []store.Session{active(s2), active(s4), active(s1), active(s3)}
	var saw []store.Session
	login(t, s, session(app1, "alice", "s7", imkit.PlatformWindows, at(time.Hour)),
		func(u store.User, active []store.Session) ([]store.Kicked, error) {
			saw = active
			return nil, nil
		})
	diff(t, "sessions Decide saw", saw, want)
	diff(t, "ActiveSessions(alice)", activeSessions(t, s, app1, "alice"),
		append(want, active(session(app1, "alice", "s7", imkit.PlatformWindows, at(time.Hour)))))
	diff(t, "ActiveSessions(bob, nobody)", activeSessions(t, s, app1, "bob", "nobody"), []store.Session{active(other)})
	diff(t, "ActiveSessions(none)", activeSessions(t, s, app1), []store.Session(nil))
	// Two users: oldest first (how equal times of different users are
	// ordered is not specified).
	got := activeSessions(t, s, app1, "bob", "alice")
	byID := make(map[string]bool)
	for i, ss := range got {
		byID[ss.ID] = true
		if i > 0 && ss.LoginAt.Before(got[i-1].LoginAt) {
			t.Errorf("ActiveSessions(bob, alice) = %v: not oldest first", ids(got))
			break
		}
	}
	diff(t, "ActiveSessions(bob, alice)", byID, map[string]bool{"s1": true, "s2": true, "s3": true, "s4": true, "s5": true, "s7": true})
}

func ids(ss []store.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func testLoginKicks(t *testing.T, s store.Store) {
	createApp(t, s, app1)
	s1 := session(app1, "alice", "s1", imkit.PlatformWeb, t0)
	s2 := session(app1, "alice", "s2", imkit.PlatformWeb, at(time.Second))
	s3 := session(app1, "alice", "s3", imkit.PlatformAndroid, at(2*time.Second))
	for _, ss := range []store.Session{s1, s2, s3} {
		login(t, s, ss, nil)
	}
	k1 := store.Kick{Reason: imkit.KickMultiInstance, Platform: imkit.PlatformWeb, At: at(time.Minute)}
	k3 := store.Kick{Reason: imkit.KickMultiDevice, Platform: imkit.PlatformWeb, At: at(time.Minute)}
	s4 := session(app1, "alice", "s4", imkit.PlatformWeb, at(time.Minute))
	r := login(t, s, s4, func(u store.User, active []store.Session) ([]store.Kicked, error) {
		return []store.Kicked{
			{SessionID: "s3", Kick: k3},
			{SessionID: "s1", Kick: k1},
			{SessionID: "no-such-session", Kick: k1},
			{SessionID: "s4", Kick: k1}, // the new one is not active yet
		}, nil
	})
	diff(t, "Kicked", r.Kicked, []store.Session{kicked(s3, k3), kicked(s1, k1)})
	diff(t, "Session s1", getSession(t, s, "s1"), kicked(s1, k1))
	diff(t, "Session s3", getSession(t, s, "s3"), kicked(s3, k3))
	diff(t, "ActiveSessions", activeSessions(t, s, app1, "alice"), []store.Session{active(s2), active(s4)})

	// A kicked session can't be kicked again.
	r = login(t, s, session(app1, "alice", "s5", imkit.PlatformMac, at(time.Hour)),
		func(store.User, []store.Session) ([]store.Kicked, error) {
			return []store.Kicked{{SessionID: "s1", Kick: k3}}, nil
		})
	diff(t, "Kicked of a kicked session", r.Kicked, []store.Session(nil))
	diff(t, "Session s1 after", getSession(t, s, "s1"), kicked(s1, k1))
}

func testLoginDecideError(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	refuse := func(store.User, []store.Session) ([]store.Kicked, error) { return nil, errBoom }

	_, err := s.Login(ctx, store.LoginParams{Session: session(app1, "alice", "s1", imkit.PlatformWeb, t0),
		Day: day0, Month: month0, Decide: refuse})
	wantErr(t, "Login refused by Decide", err, errBoom)
	_, err = s.User(ctx, app1, "alice")
	wantErr(t, "User after a refused first login", err, store.ErrNotFound)
	_, err = s.Session(ctx, "s1")
	wantErr(t, "Session of a refused login", err, store.ErrNotFound)
	diff(t, "DayStats after a refused login", dayStats(t, s, app1, day0, day0), []store.DayStats{{Day: day0}})
	mau, err := s.MonthActiveUsers(ctx, app1, month0)
	must(t, err)
	if mau != 0 {
		t.Errorf("MonthActiveUsers after a refused login = %d, want 0", mau)
	}

	s2 := session(app1, "alice", "s2", imkit.PlatformWeb, t0)
	login(t, s, s2, nil)
	_, err = s.Login(ctx, store.LoginParams{Session: session(app1, "alice", "s3", imkit.PlatformWeb, at(time.Hour)),
		Day: "2025-03-15", Month: "2025-04",
		Decide: func(store.User, []store.Session) ([]store.Kicked, error) {
			return []store.Kicked{{SessionID: "s2", Kick: store.Kick{Reason: imkit.KickMultiInstance, At: at(time.Hour)}}}, errBoom
		}})
	wantErr(t, "Login refused by Decide", err, errBoom)
	diff(t, "ActiveSessions after a refused login", activeSessions(t, s, app1, "alice"), []store.Session{active(s2)})
	diff(t, "DayStats after a refused login", dayStats(t, s, app1, day0, "2025-03-15"),
		[]store.DayStats{{Day: day0, ActiveUsers: 1, Logins: 1, NewUsers: 1}, {Day: "2025-03-15"}})
}

func testLoginStats(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	n := 0
	loginAt := func(user, day, month string) store.LoginResult {
		n++
		return loginOn(t, s, session(app1, user, fmt.Sprint("s", n), imkit.PlatformWeb, at(time.Duration(n)*time.Second)), day, month, nil)
	}
	created := 0
	for _, l := range []struct{ user, day, month string }{
		{"alice", "2025-03-14", "2025-03"},
		{"alice", "2025-03-14", "2025-03"},
		{"bob", "2025-03-14", "2025-03"},
		{"alice", "2025-03-14", "2025-03"},
		{"alice", "2025-03-16", "2025-03"},
		{"alice", "2025-03-14", "2025-03"}, // a late login of an earlier day
		{"carol", "2025-04-01", "2025-04"},
		{"alice", "2025-04-01", "2025-04"},
		{"alice", "2025-03-31", "2025-03"},
	} {
		if loginAt(l.user, l.day, l.month).Created {
			created++
		}
	}
	if created != 3 {
		t.Errorf("logins that created a user = %d, want 3", created)
	}
	must(t, s.RecordPeakOnline(ctx, app1, "2025-03-15", 0))
	diff(t, "DayStats", dayStats(t, s, app1, "2025-03-13", "2025-04-02"), []store.DayStats{
		{Day: "2025-03-13"},
		{Day: "2025-03-14", ActiveUsers: 2, Logins: 5, NewUsers: 2},
		{Day: "2025-03-15"},
		{Day: "2025-03-16", ActiveUsers: 1, Logins: 1},
		{Day: "2025-03-17"}, {Day: "2025-03-18"}, {Day: "2025-03-19"}, {Day: "2025-03-20"},
		{Day: "2025-03-21"}, {Day: "2025-03-22"}, {Day: "2025-03-23"}, {Day: "2025-03-24"},
		{Day: "2025-03-25"}, {Day: "2025-03-26"}, {Day: "2025-03-27"}, {Day: "2025-03-28"},
		{Day: "2025-03-29"}, {Day: "2025-03-30"},
		{Day: "2025-03-31", ActiveUsers: 1, Logins: 1},
		{Day: "2025-04-01", ActiveUsers: 2, Logins: 2, NewUsers: 1},
		{Day: "2025-04-02"},
	})
	for _, m := range []struct {
		month string
		want  int
	}{{"2025-03", 2}, {"2025-04", 2}, {"2025-05", 0}} {
		got, err := s.MonthActiveUsers(ctx, app1, m.month)
		must(t, err)
		if got != m.want {
			t.Errorf("MonthActiveUsers(%s) = %d, want %d", m.month, got, m.want)
		}
	}
}

// testLoginConcurrent logs one user in 50 times at once under a policy of
// at most keep sessions: exactly keep stay active, every other is kicked
// once, none is lost.
func testLoginConcurrent(t *testing.T, s store.Store) {
	const (
		logins = 50
		keep   = 3
	)
	createApp(t, s, app1)
	decide := func(u store.User, active []store.Session) ([]store.Kicked, error) {
		var ks []store.Kicked
		for i := 0; i < len(active)-(keep-1); i++ {
			ks = append(ks, store.Kicked{SessionID: active[i].ID,
				Kick: store.Kick{Reason: imkit.KickMultiInstance, Platform: imkit.PlatformWeb, At: at(time.Hour)}})
		}
		return ks, nil
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex // guards results
		results []store.LoginResult
	)
	start := make(chan struct{})
	for i := range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			sess := session(app1, "alice", fmt.Sprint("s", i), imkit.PlatformWeb, at(time.Duration(i)*time.Millisecond))
			r, err := s.Login(t.Context(), store.LoginParams{Session: sess, Day: day0, Month: month0, Decide: decide})
			if err != nil {
				t.Errorf("Login(%s): %v", sess.ID, err)
				return
			}
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}

	if got := activeSessions(t, s, app1, "alice"); len(got) != keep {
		t.Errorf("after %d concurrent logins: %d active sessions %v, want %d", logins, len(got), ids(got), keep)
	}
	created := 0
	kickedBy := make(map[string]int)
	for _, r := range results {
		if r.Created {
			created++
		}
		for _, k := range r.Kicked {
			kickedBy[k.ID]++
		}
	}
	if created != 1 {
		t.Errorf("logins that created the user = %d, want 1", created)
	}
	states := make(map[store.SessionState]int)
	for i := range logins {
		id := fmt.Sprint("s", i)
		sess := getSession(t, s, id)
		states[sess.State]++
		switch {
		case sess.State == store.SessionKicked && kickedBy[id] != 1:
			t.Errorf("session %s is kicked, reported kicked by %d logins, want 1", id, kickedBy[id])
		case sess.State == store.SessionActive && kickedBy[id] != 0:
			t.Errorf("session %s is active, reported kicked by %d logins", id, kickedBy[id])
		}
	}
	diff(t, "session states", states, map[store.SessionState]int{store.SessionActive: keep, store.SessionKicked: logins - keep})
	diff(t, "DayStats", dayStats(t, s, app1, day0, day0), []store.DayStats{{Day: day0, ActiveUsers: 1, Logins: logins, NewUsers: 1}})
}

func testLoginDuplicateSession(t *testing.T, s store.Store) {
	createApp(t, s, app1)
	s1 := session(app1, "alice", "s1", imkit.PlatformWeb, t0)
	login(t, s, s1, nil)
	again := session(app1, "bob", "s1", imkit.PlatformMac, at(time.Second))
	_, err := s.Login(t.Context(), store.LoginParams{Session: again, Day: day0, Month: month0, Decide: keepAll})
	wantErr(t, "Login with a taken session ID", err, store.ErrExists)
	diff(t, "Session s1", getSession(t, s, "s1"), active(s1))
	_, err = s.User(t.Context(), app1, "bob")
	wantErr(t, "User of a failed login", err, store.ErrNotFound)
}

func testEndSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	s1 := session(app1, "alice", "s1", imkit.PlatformWeb, t0)
	s2 := session(app1, "alice", "s2", imkit.PlatformMac, t0)
	login(t, s, s1, nil)
	login(t, s, s2, nil)

	end := func(id string, state store.SessionState, when time.Time, want bool) {
		t.Helper()
		ended, err := s.EndSession(ctx, id, state, when)
		must(t, err)
		if ended != want {
			t.Errorf("EndSession(%s, %v) = %v, want %v", id, state, ended, want)
		}
	}
	end("s1", store.SessionLoggedOut, at(time.Minute), true)
	end("s1", store.SessionExpired, at(time.Hour), false)
	end("s2", store.SessionExpired, at(time.Hour), true)
	end("nope", store.SessionLoggedOut, at(time.Hour), false)

	w1 := active(s1)
	w1.State, w1.EndedAt = store.SessionLoggedOut, ms(at(time.Minute))
	diff(t, "Session s1", getSession(t, s, "s1"), w1)
	w2 := active(s2)
	w2.State, w2.EndedAt = store.SessionExpired, ms(at(time.Hour))
	diff(t, "Session s2", getSession(t, s, "s2"), w2)
	diff(t, "ActiveSessions", activeSessions(t, s, app1, "alice"), []store.Session(nil))

	// A kicked session stays kicked.
	s3 := session(app1, "alice", "s3", imkit.PlatformWeb, t0)
	login(t, s, s3, nil)
	k := store.Kick{Reason: imkit.KickAdmin, At: at(time.Minute)}
	if _, err := s.KickUser(ctx, app1, "alice", k, 0); err != nil {
		t.Fatal(err)
	}
	end("s3", store.SessionLoggedOut, at(time.Hour), false)
	diff(t, "Session s3", getSession(t, s, "s3"), kicked(s3, k))

	_, err := s.Session(ctx, "nope")
	wantErr(t, "Session(unknown)", err, store.ErrNotFound)
}

func testRenewSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	s1 := session(app1, "alice", "s1", imkit.PlatformWeb, t0)
	s2 := session(app1, "alice", "s2", imkit.PlatformMac, t0)
	login(t, s, s1, nil)
	login(t, s, s2, nil)

	must(t, s.RenewSession(ctx, "s1", t0.Unix()+100, t0.Unix()+100+86400))
	want := active(s1)
	want.TicketTime, want.TicketExpire = t0.Unix()+100, t0.Unix()+100+86400
	diff(t, "Session after RenewSession", getSession(t, s, "s1"), want)
	diff(t, "the other session", getSession(t, s, "s2"), active(s2))

	if _, err := s.EndSession(ctx, "s2", store.SessionLoggedOut, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RenewSession(ended)", s.RenewSession(ctx, "s2", 1, 2), store.ErrNotFound)
	wantErr(t, "RenewSession(unknown)", s.RenewSession(ctx, "nope", 1, 2), store.ErrNotFound)
}

func testKickUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	s1 := session(app1, "alice", "s1", imkit.PlatformWeb, at(time.Second))
	s2 := session(app1, "alice", "s2", imkit.PlatformMac, t0)
	s3 := session(app1, "alice", "s3", imkit.PlatformIPad, t0)
	s4 := session(app1, "bob", "s4", imkit.PlatformIPad, t0)
	for _, ss := range []store.Session{s1, s2, s3, s4} {
		login(t, s, ss, nil)
	}
	if _, err := s.EndSession(ctx, "s3", store.SessionLoggedOut, at(time.Second)); err != nil {
		t.Fatal(err)
	}

	k := store.Kick{Reason: imkit.KickAdmin, At: at(time.Minute)}
	revoke := at(time.Minute).Unix()
	got, err := s.KickUser(ctx, app1, "alice", k, revoke)
	must(t, err)
	diff(t, "KickUser", got, []store.Session{kicked(s2, k), kicked(s1, k)})
	diff(t, "Session s1", getSession(t, s, "s1"), kicked(s1, k))
	if st := getSession(t, s, "s3").State; st != store.SessionLoggedOut {
		t.Errorf("Session s3 (logged out before) is %v, want logged-out", st)
	}
	diff(t, "ActiveSessions", activeSessions(t, s, app1, "alice", "bob"), []store.Session{active(s4)})
	u, err := s.User(ctx, app1, "alice")
	must(t, err)
	if u.RevokedBefore != revoke {
		t.Errorf("RevokedBefore = %d, want %d", u.RevokedBefore, revoke)
	}

	// Again: nothing to end; an earlier revokeBefore doesn't lower it.
	got, err = s.KickUser(ctx, app1, "alice", k, revoke-100)
	must(t, err)
	diff(t, "second KickUser", got, []store.Session(nil))
	u, err = s.User(ctx, app1, "alice")
	must(t, err)
	if u.RevokedBefore != revoke {
		t.Errorf("RevokedBefore after an earlier one = %d, want %d", u.RevokedBefore, revoke)
	}
	got, err = s.KickUser(ctx, app1, "alice", k, revoke+100)
	must(t, err)
	u, err = s.User(ctx, app1, "alice")
	must(t, err)
	if u.RevokedBefore != revoke+100 {
		t.Errorf("RevokedBefore after a later one = %d, want %d", u.RevokedBefore, revoke+100)
	}

	_, err = s.KickUser(ctx, app1, "nobody", k, revoke)
	wantErr(t, "KickUser(unknown)", err, store.ErrNotFound)
}

// KickedSince finds the sessions kicked by a login, by an admin and by an
// account deletion, by the time they were kicked; not the ones logged out
// or expired.
func testKickedSince(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	s1 := session(app1, "alice", "s1", imkit.PlatformWeb, t0)
	s2 := session(app1, "alice", "s2", imkit.PlatformMac, t0)
	s3 := session(app1, "bob", "s3", imkit.PlatformIPad, t0)
	s4 := session(app1, "carol", "s4", imkit.PlatformIPad, t0)
	s5 := session(app1, "dave", "s5", imkit.PlatformIPad, t0)
	for _, ss := range []store.Session{s1, s3, s4, s5} {
		login(t, s, ss, nil)
	}
	byLogin := store.Kick{Reason: imkit.KickMultiDevice, Platform: imkit.PlatformMac, At: at(time.Second)}
	s2.LoginAt = at(time.Second)
	login(t, s, s2, func(store.User, []store.Session) ([]store.Kicked, error) {
		return []store.Kicked{{SessionID: "s1", Kick: byLogin}}, nil
	})
	byAdmin := store.Kick{Reason: imkit.KickAdmin, At: at(2 * time.Second)}
	_, err := s.KickUser(ctx, app1, "bob", byAdmin, at(2*time.Second).Unix())
	must(t, err)
	must(t, s.DeleteUser(ctx, app1, "carol", at(3*time.Second)))
	if _, err := s.EndSession(ctx, "s5", store.SessionLoggedOut, at(4*time.Second)); err != nil {
		t.Fatal(err)
	}

	got, err := s.KickedSince(ctx, t0, 10)
	must(t, err)
	if ids := ids(got); len(ids) != 3 || ids[0] != "s1" || ids[1] != "s3" || ids[2] != "s4" {
		t.Fatalf("KickedSince(t0) = %v, want [s1 s3 s4]", ids)
	}
	diff(t, "KickedSince(t0)[0]", got[0], kicked(s1, byLogin))
	diff(t, "KickedSince(t0)[1]", got[1], kicked(s3, byAdmin))
	if k := got[2].Kick; k.Reason != imkit.KickAdmin || !k.At.Equal(ms(at(3*time.Second))) {
		t.Errorf("the deleted account's session's kick = %+v, want admin at 3s", k)
	}
	got, err = s.KickedSince(ctx, at(2*time.Second), 10)
	must(t, err)
	if ids := ids(got); len(ids) != 2 || ids[0] != "s3" {
		t.Errorf("KickedSince(2s) = %v, want [s3 s4]", ids)
	}
	got, err = s.KickedSince(ctx, t0, 1)
	must(t, err)
	if ids := ids(got); len(ids) != 1 || ids[0] != "s1" {
		t.Errorf("KickedSince(t0, limit 1) = %v, want [s1]", ids)
	}
}

func testPurgeSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	for i, end := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, -1} {
		id := fmt.Sprint("s", i)
		login(t, s, session(app1, "alice", id, imkit.PlatformWeb, t0), nil)
		if end >= 0 {
			if _, err := s.EndSession(ctx, id, store.SessionLoggedOut, at(end)); err != nil {
				t.Fatal(err)
			}
		}
	}
	purge := func(before time.Time, want int) {
		t.Helper()
		n, err := s.PurgeSessions(ctx, before)
		must(t, err)
		if n != want {
			t.Errorf("PurgeSessions(%v) = %d, want %d", before, n, want)
		}
	}
	purge(at(2*time.Minute), 1) // ended strictly before
	_, err := s.Session(ctx, "s0")
	wantErr(t, "Session(purged)", err, store.ErrNotFound)
	getSession(t, s, "s1")
	purge(at(24*time.Hour), 2)
	diff(t, "ActiveSessions", ids(activeSessions(t, s, app1, "alice")), []string{"s3"})
	purge(at(24*time.Hour), 0)
}

func testDayStats(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	for _, n := range []int{5, 3, 7, 6} {
		must(t, s.RecordPeakOnline(ctx, app1, "2024-02-28", n))
	}
	must(t, s.RecordPeakOnline(ctx, app1, "2024-03-01", 2))
	diff(t, "DayStats over a leap day", dayStats(t, s, app1, "2024-02-27", "2024-03-02"), []store.DayStats{
		{Day: "2024-02-27"},
		{Day: "2024-02-28", PeakOnline: 7},
		{Day: "2024-02-29"},
		{Day: "2024-03-01", PeakOnline: 2},
		{Day: "2024-03-02"},
	})
	diff(t, "DayStats of one day", dayStats(t, s, app1, "2024-03-01", "2024-03-01"),
		[]store.DayStats{{Day: "2024-03-01", PeakOnline: 2}})
	diff(t, "DayStats of an empty range", dayStats(t, s, app1, "2024-03-02", "2024-03-01"), []store.DayStats(nil))
	diff(t, "DayStats of another app", dayStats(t, s, app2, "2024-02-28", "2024-02-28"), []store.DayStats{{Day: "2024-02-28"}})
}
