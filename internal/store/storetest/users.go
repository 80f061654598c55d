package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
)

func testApps(t *testing.T, s store.Store) {
	ctx := t.Context()
	a2 := store.App{
		SDKAppID:     app2,
		Key:          "secret-2",
		Admin:        "admin2",
		Policy:       imkit.PolicyTriple,
		MaxInstances: map[imkit.Platform]int{imkit.PlatformWeb: 10, imkit.PlatformAndroid: 3},
		WebhookURL:   "https://example.com/hook",
		CreatedAt:    at(time.Hour),
	}
	a1 := store.App{SDKAppID: app1, Key: "secret-1", Admin: "admin1", Policy: imkit.PolicySingle, CreatedAt: t0}
	must(t, s.CreateApp(ctx, a2))
	must(t, s.CreateApp(ctx, a1))

	dup := a1
	dup.Key = "another"
	wantErr(t, "CreateApp of a taken SDKAppID", s.CreateApp(ctx, dup), store.ErrExists)

	want2 := a2
	want2.CreatedAt = ms(a2.CreatedAt)
	got, err := s.App(ctx, app2)
	must(t, err)
	diff(t, "App", got, want2)
	if loc := got.CreatedAt.Location(); loc != time.UTC {
		t.Errorf("App().CreatedAt.Location() = %v, want UTC", loc)
	}

	_, err = s.App(ctx, 42)
	wantErr(t, "App(unknown)", err, store.ErrNotFound)

	want1 := a1
	want1.CreatedAt = ms(a1.CreatedAt)
	apps, err := s.Apps(ctx)
	must(t, err)
	diff(t, "Apps", apps, []store.App{want1, want2})
	if limit := apps[1].Limit(imkit.PlatformWeb); limit != 10 {
		t.Errorf("Limit(Web) = %d, want 10", limit)
	}
	if limit := apps[1].Limit(imkit.PlatformMac); limit != 1 {
		t.Errorf("Limit(Mac) = %d, want 1", limit)
	}
}

func testUpdateApp(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createApp(t, s, app1)

	u := store.App{
		SDKAppID:     app1,
		Key:          "changed key",
		Admin:        "changed admin",
		Policy:       imkit.PolicyMulti,
		MaxInstances: map[imkit.Platform]int{imkit.PlatformIPhone: 2},
		WebhookURL:   "http://hooks.example/im",
		CreatedAt:    at(48 * time.Hour),
	}
	must(t, s.UpdateApp(ctx, u))
	want := a
	want.CreatedAt = ms(a.CreatedAt)
	want.Policy, want.MaxInstances, want.WebhookURL = u.Policy, u.MaxInstances, u.WebhookURL
	got, err := s.App(ctx, app1)
	must(t, err)
	diff(t, "App after UpdateApp", got, want)

	// Back to no limits and no webhook.
	u.MaxInstances, u.WebhookURL = nil, ""
	must(t, s.UpdateApp(ctx, u))
	want.MaxInstances, want.WebhookURL = nil, ""
	got, err = s.App(ctx, app1)
	must(t, err)
	diff(t, "App after second UpdateApp", got, want)

	u.SDKAppID = app2
	wantErr(t, "UpdateApp(unknown)", s.UpdateApp(ctx, u), store.ErrNotFound)
}

func testImportUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)

	_, err := s.User(ctx, app1, "alice")
	wantErr(t, "User(unknown)", err, store.ErrNotFound)

	created, err := s.ImportUser(ctx, store.User{App: app1, UserID: "alice", Nick: "Alice", FaceURL: "https://a/1.png", CreatedAt: t0}, day0)
	must(t, err)
	if !created {
		t.Errorf("first ImportUser: created = false, want true")
	}
	want := store.User{App: app1, UserID: "alice", Nick: "Alice", FaceURL: "https://a/1.png", Imported: true, CreatedAt: ms(t0)}
	got, err := s.User(ctx, app1, "alice")
	must(t, err)
	diff(t, "User after import", got, want)

	created, err = s.ImportUser(ctx, store.User{App: app1, UserID: "alice", Nick: "Al", FaceURL: "https://a/2.png", CreatedAt: at(time.Hour)}, day0)
	must(t, err)
	if created {
		t.Errorf("second ImportUser: created = true, want false")
	}
	want.Nick, want.FaceURL = "Al", "https://a/2.png"
	got, err = s.User(ctx, app1, "alice")
	must(t, err)
	diff(t, "User after second import", got, want)

	// An account made by a login stays a login's account.
	login(t, s, session(app1, "bob", "s1", imkit.PlatformWeb, t0), nil)
	created, err = s.ImportUser(ctx, store.User{App: app1, UserID: "bob", Nick: "Bob", CreatedAt: at(time.Hour)}, day0)
	must(t, err)
	if created {
		t.Errorf("ImportUser of a logged in user: created = true, want false")
	}
	got, err = s.User(ctx, app1, "bob")
	must(t, err)
	diff(t, "User imported after login", got, store.User{App: app1, UserID: "bob", Nick: "Bob", CreatedAt: ms(t0)})

	diff(t, "DayStats", dayStats(t, s, app1, day0, day0),
		[]store.DayStats{{Day: day0, NewUsers: 2, ActiveUsers: 1, Logins: 1}})
}

func testDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	s1 := session(app1, "alice", "s1", imkit.PlatformAndroid, t0)
	s2 := session(app1, "alice", "s2", imkit.PlatformWeb, at(time.Second))
	login(t, s, s1, nil)
	login(t, s, s2, nil)
	ended := session(app1, "alice", "s0", imkit.PlatformMac, at(-time.Hour))
	login(t, s, ended, nil)
	if _, err := s.EndSession(ctx, "s0", store.SessionLoggedOut, at(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	sent := appendMsgs(t, s, app1, msg("alice", "bob", "c1", time.Second), msg("bob", "alice", "c2", 2*time.Second))

	when := at(time.Minute)
	must(t, s.DeleteUser(ctx, app1, "alice", when))

	_, err := s.User(ctx, app1, "alice")
	wantErr(t, "User(deleted)", err, store.ErrNotFound)
	k := store.Kick{Reason: imkit.KickAdmin, At: when}
	diff(t, "Session s1", getSession(t, s, "s1"), kicked(s1, k))
	diff(t, "Session s2", getSession(t, s, "s2"), kicked(s2, k))
	wantS0 := active(ended)
	wantS0.State, wantS0.EndedAt = store.SessionLoggedOut, ms(at(-time.Minute))
	diff(t, "Session s0 (ended before)", getSession(t, s, "s0"), wantS0)
	diff(t, "ActiveSessions", activeSessions(t, s, app1, "alice"), []store.Session(nil))

	// bob keeps his mailbox and conversation; alice's are gone.
	diff(t, "bob's mailbox", syncAll(t, s, app1, "bob"), []store.Entry{entryOf("bob", sent[0]), entryOf("bob", sent[1])})
	diff(t, "alice's mailbox", syncAll(t, s, app1, "alice"), []store.Entry(nil))
	if cs := conversations(t, s, app1, "bob", store.Cursor{}, 10); len(cs) != 1 || cs[0].Peer != "alice" {
		t.Errorf("bob's conversations = %+v, want the one with alice", cs)
	}
	diff(t, "alice's conversations", conversations(t, s, app1, "alice", store.Cursor{}, 10), []store.Conversation(nil))

	wantErr(t, "DeleteUser(deleted)", s.DeleteUser(ctx, app1, "alice", when), store.ErrNotFound)
	wantErr(t, "DeleteUser(unknown)", s.DeleteUser(ctx, app1, "nobody", when), store.ErrNotFound)

	// A new login signs alice up again, with nothing from before but the
	// revocation of the tickets signed before the deletion.
	var decided store.User
	r := login(t, s, session(app1, "alice", "s3", imkit.PlatformWeb, at(time.Hour)), func(u store.User, _ []store.Session) ([]store.Kicked, error) {
		decided = u
		return nil, nil
	})
	if !r.Created {
		t.Errorf("Login after DeleteUser: Created = false, want true")
	}
	if decided.RevokedBefore != when.Unix() || r.User.RevokedBefore != when.Unix() {
		t.Errorf("Login after DeleteUser: Decide saw RevokedBefore %d, the result has %d; want %d (the deletion)",
			decided.RevokedBefore, r.User.RevokedBefore, when.Unix())
	}
	if u, err := s.User(ctx, app1, "alice"); err != nil || u.RevokedBefore != when.Unix() {
		t.Errorf("User(alice) after the new login: RevokedBefore %d, %v; want %d", u.RevokedBefore, err, when.Unix())
	}
	m := appendMsgs(t, s, app1, msg("bob", "alice", "c3", time.Hour+time.Second))[0]
	if m.ConvSeq != 3 || m.ToSeq != 1 {
		t.Errorf("a message to the new alice has ConvSeq %d and ToSeq %d, want 3 (the conversation goes on) and 1 (a new mailbox)", m.ConvSeq, m.ToSeq)
	}
	diff(t, "the new alice's mailbox", syncAll(t, s, app1, "alice"), []store.Entry{entryOf("alice", m)})
	h, err := s.History(ctx, app1, "alice", "bob", 0, 10)
	must(t, err)
	diff(t, "the new alice's history", h, []store.Entry{entryOf("alice", m)})
	h, err = s.History(ctx, app1, "bob", "alice", 0, 10)
	must(t, err)
	diff(t, "bob's history", h, []store.Entry{entryOf("bob", m), entryOf("bob", sent[1]), entryOf("bob", sent[0])})
	diff(t, "the new alice's conversations", conversations(t, s, app1, "alice", store.Cursor{}, 10),
		[]store.Conversation{{Peer: "bob", Last: entryOf("alice", m), ConvSeq: 3, Unread: 1, Time: m.Time}})
	c, err := s.MarkRead(ctx, app1, "alice", "bob", 1)
	must(t, err)
	if c.Unread != 1 {
		t.Errorf("MarkRead before the new alice's first message: Unread = %d, want 1", c.Unread)
	}
}

// testDeleteRevokes: an account made again after a deletion, by an import,
// a message or a login, refuses the tickets signed before the deletion (or
// before an earlier kick's revocation, if later); an account never deleted
// refuses none.
func testDeleteRevokes(t *testing.T, s store.Store) {
	ctx := t.Context()
	createApp(t, s, app1)
	for i, u := range []string{"carol", "dave", "erin"} {
		login(t, s, session(app1, u, fmt.Sprint("s", i), imkit.PlatformWeb, t0), nil)
	}
	when := at(time.Minute)
	later := when.Unix() + 3600
	if _, err := s.KickUser(ctx, app1, "erin", store.Kick{Reason: imkit.KickAdmin, At: when}, later); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"carol", "dave", "erin"} {
		must(t, s.DeleteUser(ctx, app1, u, when))
	}
	if _, err := s.ImportUser(ctx, store.User{App: app1, UserID: "carol", Imported: true, CreatedAt: at(time.Hour)}, day0); err != nil {
		t.Fatal(err)
	}
	appendMsgs(t, s, app1, msg("frank", "dave", "c1", time.Hour))
	login(t, s, session(app1, "erin", "s9", imkit.PlatformWeb, at(time.Hour)), nil)
	for _, w := range []struct {
		user   string
		before int64
	}{{"carol", when.Unix()}, {"dave", when.Unix()}, {"erin", later}, {"frank", 0}} {
		u, err := s.User(ctx, app1, w.user)
		if err != nil || u.RevokedBefore != w.before {
			t.Errorf("User(%s): RevokedBefore %d, %v; want %d", w.user, u.RevokedBefore, err, w.before)
		}
	}
}
