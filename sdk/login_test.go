package sdk_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/sdk"
	"github.com/imkit/imkit/usersig"
)

func TestLoginLogout(t *testing.T) {
	srv := imkittest.RunServer(t)
	c := newClient(t, srv.URL, imkit.PlatformAndroid)
	if got, want := c.LoginStatus(), imkit.LoginStatusLogout; got != want {
		t.Fatalf("status before login = %v, want %v", got, want)
	}
	c.login(srv, "alice")
	if got, want := c.LoginStatus(), imkit.LoginStatusLogined; got != want {
		t.Fatalf("status = %v, want %v", got, want)
	}
	if got := c.LoginUser(); got != "alice" {
		t.Fatalf("LoginUser = %q, want alice", got)
	}
	c.waitFor("syncFinish")
	if err := c.Logout(ctx(t)); err != nil {
		t.Fatalf("logout: %v", err)
	}
	if got, want := c.LoginStatus(), imkit.LoginStatusLogout; got != want {
		t.Fatalf("status after logout = %v, want %v", got, want)
	}
	if got := c.LoginUser(); got != "" {
		t.Fatalf("LoginUser after logout = %q, want empty", got)
	}
}

// Login's refusals, before and after the network.
func TestLoginErrors(t *testing.T) {
	srv := imkittest.RunServer(t)
	c := newClient(t, srv.URL, imkit.PlatformAndroid)
	wrongKey, _ := usersig.Sign(imkittest.SDKAppID, "not the key", "alice", time.Hour)
	otherApp, _ := usersig.Sign(1400000002, imkittest.Key, "alice", time.Hour)
	expired := imkittest.SignAt(t, "alice", time.Now().Add(-2*time.Hour), time.Hour)
	for _, tt := range []struct {
		name, user, sig string
		want            imkit.Code
	}{
		{"bad userID", "al ice", srv.Sign("alice"), imkit.ErrInvalidIdentifier},
		{"userID too long", strings.Repeat("a", 33), srv.Sign("alice"), imkit.ErrInvalidIdentifier},
		{"userID not ASCII", "中文", srv.Sign("alice"), imkit.ErrInvalidIdentifier},
		{"empty userID", "", srv.Sign("alice"), imkit.ErrInvalidIdentifier},
		{"empty ticket", "alice", "", imkit.ErrSvrUserSigEmpty},
		{"garbage ticket", "alice", "garbage", imkit.ErrSvrUserSigCheckFailed},
		{"wrong key", "alice", wrongKey, imkit.ErrSvrUserSigMismatchKey},
		{"another user's ticket", "alice", srv.Sign("bob"), imkit.ErrSvrUserSigMismatchID},
		{"another app's ticket", "alice", otherApp, imkit.ErrSvrUserSigMismatchApp},
		{"expired ticket", "alice", expired, imkit.ErrUserSigExpired},
	} {
		wantErrCode(t, tt.name, c.loginWith(tt.user, tt.sig), tt.want)
		if got := c.LoginStatus(); got != imkit.LoginStatusLogout {
			t.Fatalf("%s: status = %v, want LOGOUT", tt.name, got)
		}
		if tt.user != "alice" || tt.sig == "" {
			// Refused before any network call.
			if n := c.count("connecting"); n != 0 {
				t.Fatalf("%s: the SDK went to the network: %v", tt.name, c.history())
			}
		}
	}
	unknown, err := sdk.New(1400000002, sdk.Config{ServerURL: srv.URL, Platform: imkit.PlatformWeb})
	if err != nil {
		t.Fatal(err)
	}
	defer unknown.UnInit()
	wantErrCode(t, "unknown app", unknown.Login(ctx(t), "alice", otherApp), imkit.ErrSvrSDKAppIDNotFound)

	_, err = sdk.New(imkittest.SDKAppID, sdk.Config{ServerURL: srv.URL, Platform: imkit.Platform(42)})
	wantErrCode(t, "unknown platform", err, imkit.ErrInvalidParameters)

	c.UnInit()
	wantErrCode(t, "after UnInit", c.loginWith("alice", srv.Sign("alice")), imkit.ErrSDKNotInitialized)
}

// Logging in again as the same user changes nothing; as another user it
// switches accounts: the old user's session ends (a logout, not a kick).
func TestLoginAgainAndSwitch(t *testing.T) {
	srv := imkittest.RunServer(t)
	c := newClient(t, srv.URL, imkit.PlatformAndroid, withInstance("phone"))
	c.login(srv, "alice")
	c.login(srv, "alice")
	if n := c.count("connecting"); n != 1 {
		t.Fatalf("a repeated login connected again: %v", c.history())
	}
	wantInstances(t, srv, "alice", "phone")

	c.login(srv, "bob")
	if got := c.LoginUser(); got != "bob" {
		t.Fatalf("LoginUser = %q, want bob", got)
	}
	wantInstances(t, srv, "alice")
	wantInstances(t, srv, "bob", "phone")
	if n := c.count("kicked"); n != 0 {
		t.Fatalf("the switch was a kick: %v", c.history())
	}
	wantOnline(t, "phone", c)
}

// A second Login while one runs fails with 7501; Logout ends the running
// one, which fails with 6023.
func TestLoginInProgress(t *testing.T) {
	srv := imkittest.RunServer(t)
	net := srv.Proxy()
	c := newClient(t, net.URL(), imkit.PlatformAndroid)
	net.Pause() // the login hangs
	first := make(chan error, 1)
	go func() { first <- c.loginWith("alice", srv.Sign("alice")) }()
	imkittest.Eventually(t, "LOGINING", func() bool { return c.LoginStatus() == imkit.LoginStatusLogining })
	wantErrCode(t, "second login", c.loginWith("alice", srv.Sign("alice")), imkit.ErrLoginInProcess)
	if err := c.Logout(ctx(t)); err != nil {
		t.Fatal(err)
	}
	wantErrCode(t, "the login Logout ended", <-first, imkit.ErrLoggedOutBeforeLogin)
	if got := c.LoginStatus(); got != imkit.LoginStatusLogout {
		t.Fatalf("status = %v, want LOGOUT", got)
	}
	net.Resume()
	// Had the server taken the abandoned login, the SDK logs it out.
	imkittest.Eventually(t, "no session left", func() bool { return len(srv.ActiveInstances("alice")) == 0 })
	c.login(srv, "alice")
	wantOnline(t, "c", c)
}

// Too many bad tickets for one user lock the user out for a while (70050,
// even with a good ticket); then logins work again. Other users are not
// affected.
func TestFailedTicketLockout(t *testing.T) {
	const lock = 1500 * time.Millisecond
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.MaxFailures = 3
		c.LockDuration = lock
	}))
	c := newClient(t, srv.URL, imkit.PlatformAndroid)
	bad, _ := usersig.Sign(imkittest.SDKAppID, "not the key", "alice", time.Hour)
	for i := range 3 {
		wantErrCode(t, fmt.Sprint("bad ticket ", i), c.loginWith("alice", bad), imkit.ErrSvrUserSigMismatchKey)
	}
	locked := time.Now()
	wantErrCode(t, "good ticket while locked", c.loginWith("alice", srv.Sign("alice")), imkit.ErrSvrAccountFreqLimit)
	other := newClient(t, srv.URL, imkit.PlatformAndroid)
	other.login(srv, "bob")

	imkittest.Eventually(t, "the lock passes", func() bool { return time.Since(locked) > lock })
	c.login(srv, "alice")
	wantOnline(t, "alice", c)
}

// The first login of a userID creates the account; the day's and the
// month's active users count the user once however often it logs in.
func TestFirstLoginSignsUp(t *testing.T) {
	srv := imkittest.RunServer(t)
	ctx := ctx(t)
	if _, err := srv.Store.User(ctx, imkittest.SDKAppID, "newbie"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before the first login: User = %v, want not found", err)
	}
	c := newClient(t, srv.URL, imkit.PlatformAndroid)
	for range 3 {
		c.login(srv, "newbie")
		if err := c.Logout(ctx); err != nil {
			t.Fatal(err)
		}
	}
	u, err := srv.Store.User(ctx, imkittest.SDKAppID, "newbie")
	if err != nil {
		t.Fatalf("after the first login: %v", err)
	}
	if u.Imported {
		t.Errorf("an account made by a login is marked imported")
	}
	day := srv.Sessions.Day(time.Now())
	stats, err := srv.Store.DayStats(ctx, imkittest.SDKAppID, day, day)
	if err != nil || len(stats) != 1 {
		t.Fatalf("DayStats = %v, %v", stats, err)
	}
	if got := stats[0]; got.ActiveUsers != 1 || got.Logins != 3 || got.NewUsers != 1 {
		t.Errorf("the day's statistics = %+v, want 1 active user, 3 logins, 1 new user", got)
	}
	mau, err := srv.Store.MonthActiveUsers(ctx, imkittest.SDKAppID, srv.Sessions.Month(time.Now()))
	if err != nil || mau != 1 {
		t.Errorf("MonthActiveUsers = %d, %v; want 1", mau, err)
	}
}
