package session_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/session"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlite"
	"github.com/imkit/imkit/protocol"
	"github.com/imkit/imkit/usersig"
)

const (
	appID = 1400000001
	key   = "0123456789abcdef"
)

// kicks records the sessions the service reports kicked.
type kicks struct {
	mu  sync.Mutex
	ids []string
}

func (k *kicks) Kicked(_ context.Context, ss []store.Session) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range ss {
		k.ids = append(k.ids, s.ID+":"+s.Kick.Reason.String())
	}
}

func (k *kicks) take() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := k.ids
	k.ids = nil
	return out
}

type fixture struct {
	t     *testing.T
	st    store.Store
	svc   *session.Service
	clock *imkittest.Clock
	kicks *kicks
}

func newFixture(t *testing.T, cfg session.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "imkit.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateApp(ctx, store.App{SDKAppID: appID, Key: key, Policy: imkit.PolicyDual}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, st: st, clock: imkittest.NewClock(time.Now()), kicks: &kicks{}}
	cfg.Store, cfg.Notifier, cfg.Now = st, f.kicks, f.clock.Now
	f.svc = session.New(cfg)
	return f
}

// sign signs a ticket for user at the fixture's time.
func (f *fixture) sign(user string, life time.Duration) string {
	f.t.Helper()
	sig, err := usersig.SignTicket(key, usersig.Ticket{SDKAppID: appID, Identifier: user, Time: f.clock.Now().Unix(), Expire: int64(life / time.Second)})
	if err != nil {
		f.t.Fatal(err)
	}
	return sig
}

func (f *fixture) login(user string, p imkit.Platform, instance, sig string) (store.Session, error) {
	s, _, err := f.svc.Login(context.Background(), &protocol.LoginRequest{
		SDKAppID: appID, UserID: user, UserSig: sig, Platform: p, InstanceID: instance,
	}, nil)
	return s, err
}

func (f *fixture) mustLogin(user string, p imkit.Platform, instance string) store.Session {
	f.t.Helper()
	s, err := f.login(user, p, instance, f.sign(user, time.Hour))
	if err != nil {
		f.t.Fatalf("login %s on %v: %v", user, p, err)
	}
	return s
}

func (f *fixture) resume(s store.Session, sig string) (store.Session, error) {
	return f.svc.Resume(context.Background(), &protocol.LoginRequest{
		SDKAppID: appID, UserID: s.UserID, UserSig: sig, Platform: s.Platform, InstanceID: s.InstanceID, SessionID: s.ID,
	}, nil)
}

func wantCode(t *testing.T, what string, err error, want imkit.Code) {
	t.Helper()
	if got := imkit.ErrorCode(err); err == nil || got != want {
		t.Fatalf("%s: %v, want code %d", what, err, want)
	}
}

// A policy changed in the store applies to logins after at most
// AppCacheTTL (1 s), and at once after ForgetApp.
func TestPolicyChangeWithinASecond(t *testing.T) {
	f := newFixture(t, session.Config{})
	ctx := context.Background()
	android := f.mustLogin("alice", imkit.PlatformAndroid, "android")
	f.mustLogin("alice", imkit.PlatformWeb, "web1")
	if k := f.kicks.take(); len(k) != 0 {
		t.Fatalf("kicked %v under dual", k)
	}
	a, _ := f.st.App(ctx, appID)
	a.Policy = imkit.PolicySingle
	if err := f.st.UpdateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(500 * time.Millisecond)
	web2 := f.mustLogin("alice", imkit.PlatformWeb, "web2")
	if k := f.kicks.take(); len(k) != 1 { // web1 only: still dual
		t.Fatalf("kicked %v half a second after the change, want web1 only (cached)", k)
	}
	f.clock.Add(600 * time.Millisecond)
	f.mustLogin("alice", imkit.PlatformWeb, "web3")
	got := f.kicks.take()
	want := []string{android.ID + ":multi-device", web2.ID + ":multi-instance"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("kicked %v 1.1 s after the change, want %v", got, want)
	}

	a.Policy = imkit.PolicyMulti
	f.st.UpdateApp(ctx, a)
	f.svc.ForgetApp(appID)
	f.mustLogin("alice", imkit.PlatformMac, "mac")
	if k := f.kicks.take(); len(k) != 0 {
		t.Fatalf("kicked %v right after ForgetApp made the policy multi", k)
	}
}

// A resume continues the session without applying the policy; it is
// refused once the session was kicked (6208, with the kick), when the
// ticket ran out (70001, and the session ends), after a logout (6014), and
// for another instance (70402).
func TestResume(t *testing.T) {
	f := newFixture(t, session.Config{})
	sig := f.sign("alice", time.Hour)
	android, err := f.login("alice", imkit.PlatformAndroid, "android", sig)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.resume(android, sig)
	if err != nil || got.ID != android.ID {
		t.Fatalf("resume: %v, %v", got.ID, err)
	}
	if k := f.kicks.take(); len(k) != 0 {
		t.Fatalf("a resume kicked %v", k)
	}

	other := android
	other.InstanceID = "someone else"
	_, err = f.resume(other, sig)
	wantCode(t, "resume by another instance", err, imkit.ErrSvrInvalidParameters)

	f.mustLogin("alice", imkit.PlatformIPhone, "iphone") // kicks the Android
	_, err = f.resume(android, sig)
	wantCode(t, "resume of a kicked session", err, imkit.ErrKickedOffByOther)
	var ke *session.KickedError
	if !errors.As(err, &ke) || ke.Kick.Reason != imkit.KickMultiDevice || ke.Kick.Platform != imkit.PlatformIPhone {
		t.Fatalf("kick %+v, want multi-device by iPhone", ke)
	}

	short := f.sign("bob", 2*time.Second)
	bob, err := f.login("bob", imkit.PlatformWeb, "web", short)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(3 * time.Second)
	_, err = f.resume(bob, short)
	wantCode(t, "resume with an expired ticket", err, imkit.ErrSvrUserSigExpired)
	if s, _ := f.svc.Session(context.Background(), bob.ID); s.State != store.SessionExpired {
		t.Fatalf("bob's session is %v, want expired", s.State)
	}
	// A renewed ticket does not bring an expired session back.
	_, err = f.resume(bob, f.sign("bob", time.Hour))
	wantCode(t, "resume of an expired session", err, imkit.ErrSvrUserSigExpired)

	carol := f.mustLogin("carol", imkit.PlatformMac, "mac")
	if err := f.svc.Logout(context.Background(), carol); err != nil {
		t.Fatal(err)
	}
	_, err = f.resume(carol, f.sign("carol", time.Hour))
	wantCode(t, "resume after logout", err, imkit.ErrSDKNotLoggedIn)
}

// An admin kick ends every session and refuses tickets signed before it
// (70052), for logins and renewals; a ticket signed after works.
func TestKickUserRevokes(t *testing.T) {
	f := newFixture(t, session.Config{})
	old := f.sign("alice", time.Hour)
	a, err := f.login("alice", imkit.PlatformAndroid, "a", old)
	if err != nil {
		t.Fatal(err)
	}
	w := f.mustLogin("alice", imkit.PlatformWeb, "w")
	f.clock.Add(time.Second)
	kicked, err := f.svc.KickUser(context.Background(), appID, "alice")
	if err != nil || len(kicked) != 2 {
		t.Fatalf("KickUser: %d sessions, %v", len(kicked), err)
	}
	if got := f.kicks.take(); len(got) != 2 || got[0] != a.ID+":admin" || got[1] != w.ID+":admin" {
		t.Fatalf("told %v, want both sessions kicked by admin", got)
	}
	_, err = f.login("alice", imkit.PlatformAndroid, "a", old)
	wantCode(t, "login with a ticket signed before the kick", err, imkit.ErrSvrInvalidUserSig)
	_, err = f.resume(a, old)
	wantCode(t, "resume of a kicked session", err, imkit.ErrKickedOffByOther)

	f.clock.Add(time.Second)
	s := f.mustLogin("alice", imkit.PlatformAndroid, "a")
	_, err = f.svc.Renew(context.Background(), s, old)
	wantCode(t, "renew with a ticket signed before the kick", err, imkit.ErrSvrInvalidUserSig)
	exp, err := f.svc.Renew(context.Background(), s, f.sign("alice", 2*time.Hour))
	if err != nil || exp < f.clock.Now().Add(time.Hour).Unix() {
		t.Fatalf("renew: %d, %v", exp, err)
	}
	_, err = f.svc.KickUser(context.Background(), appID, "nobody")
	wantCode(t, "kick of an unknown user", err, imkit.ErrSvrAccountNotFound)
}

// Bad tickets lock the user out for LockDuration (70050), then a good one
// works.
func TestLockoutThroughLogin(t *testing.T) {
	f := newFixture(t, session.Config{MaxFailures: 3, LockDuration: 30 * time.Second})
	bad, _ := usersig.Sign(appID, "wrong key", "alice", time.Hour)
	for range 3 {
		_, err := f.login("alice", imkit.PlatformAndroid, "a", bad)
		wantCode(t, "bad ticket", err, imkit.ErrSvrUserSigMismatchKey)
	}
	_, err := f.login("alice", imkit.PlatformAndroid, "a", f.sign("alice", time.Hour))
	wantCode(t, "good ticket while locked", err, imkit.ErrSvrAccountFreqLimit)
	f.mustLogin("bob", imkit.PlatformAndroid, "b") // others are not locked
	f.clock.Add(31 * time.Second)
	f.mustLogin("alice", imkit.PlatformAndroid, "a")
}

// Many logins of one user at once leave exactly what the policy allows,
// and every other session is told it was kicked, once.
func TestConcurrentLoginsAtomic(t *testing.T) {
	f := newFixture(t, session.Config{})
	const n = 64
	var wg sync.WaitGroup
	ids := make([]string, n)
	for i := range n {
		wg.Go(func() {
			p := imkit.Platforms[i%len(imkit.Platforms)]
			s, err := f.login("alice", p, "i"+string(rune('A'+i)), f.sign("alice", time.Hour))
			if err != nil {
				t.Error(err)
			}
			ids[i] = s.ID
		})
	}
	wg.Wait()
	active, err := f.st.ActiveSessions(context.Background(), appID, []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 2 || active[0].Platform.Class() == active[1].Platform.Class() {
		t.Fatalf("active %+v, want one native and one Web (dual)", active)
	}
	told := map[string]int{}
	for _, k := range f.kicks.take() {
		told[k[:32]]++
	}
	if len(told) != n-2 {
		t.Fatalf("%d sessions told they were kicked, want %d", len(told), n-2)
	}
	for id, c := range told {
		if c != 1 {
			t.Fatalf("session %s told %d times", id, c)
		}
		if id == active[0].ID || id == active[1].ID {
			t.Fatalf("active session %s was told it was kicked", id)
		}
	}
}
