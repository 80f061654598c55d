package sdk_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/sdk"
	"github.com/imkit/imkit/usersig"
)

// withLead starts the server with an expiry lead time.
func withLead(d time.Duration) imkittest.Option {
	return imkittest.WithConfig(func(c *server.Config) { c.ExpiryLead = d })
}

// ticketExpire returns the expiry the server holds for the user's only
// active session (Unix seconds), or 0.
func ticketExpire(t testing.TB, srv *imkittest.Server, user string) int64 {
	t.Helper()
	ss, err := srv.Store.ActiveSessions(context.Background(), imkittest.SDKAppID, []string{user})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 {
		return 0
	}
	return ss[0].TicketExpire
}

// provider is a UserSigProvider that signs tickets of a given lifetime and
// counts its calls.
type provider struct {
	t     testing.TB
	life  time.Duration
	calls atomic.Int32
}

func (p *provider) get(_ context.Context, user string) (string, error) {
	p.calls.Add(1)
	return imkittest.SignFor(p.t, user, p.life), nil
}

// shortTicket signs a ticket that runs out in about d (whole seconds) and
// returns it with its expiry.
func shortTicket(t testing.TB, user string, d time.Duration) (string, time.Time) {
	sig := imkittest.SignFor(t, user, d)
	tk, err := usersig.Decode(sig)
	if err != nil {
		t.Fatal(err)
	}
	return sig, tk.ExpiresAt()
}

// Without a UserSigProvider, the session ends when the ticket runs out: the
// SDK fires OnUserSigExpired and goes to LOGOUT; the old ticket is refused
// with 6206, and a new one works.
func TestExpiryWithoutProvider(t *testing.T) {
	t.Parallel()
	srv := imkittest.RunServer(t, withLead(time.Second))
	phone := newClient(t, srv.URL, imkit.PlatformAndroid, withInstance("phone"))
	sig, _ := shortTicket(t, "alice", 2*time.Second)
	if err := phone.loginWith("alice", sig); err != nil {
		t.Fatal(err)
	}
	phone.waitFor("expired")
	wantLoggedOut(t, phone)
	if n := phone.count("connecting"); n != 1 {
		t.Fatalf("events %v: want no reconnect", phone.history())
	}
	wantInstances(t, srv, "alice")
	wantErrCode(t, "login with the expired ticket", phone.loginWith("alice", sig), imkit.ErrUserSigExpired)
	if err := phone.loginWith("alice", srv.Sign("alice")); err != nil {
		t.Fatalf("login with a new ticket: %v", err)
	}
	wantOnline(t, "phone", phone)
}

// With a UserSigProvider, the SDK renews the ticket on the same connection
// before it runs out: no reconnect, no message lost, even with messages
// being sent all the while.
func TestRenewRacingSends(t *testing.T) {
	t.Parallel()
	// Sending as fast as it can: no limit on the requests.
	srv := imkittest.RunServer(t, withLead(1500*time.Millisecond), imkittest.NoRequestLimit())
	p := &provider{t: t, life: time.Hour}
	alice := newClient(t, srv.URL, imkit.PlatformAndroid, withInstance("alice"), withProvider(p.get))
	bob := newClient(t, srv.URL, imkit.PlatformIPhone, withInstance("bob"))
	sig, expires := shortTicket(t, "alice", 3*time.Second)
	if err := alice.loginWith("alice", sig); err != nil {
		t.Fatal(err)
	}
	bob.login(srv, "bob")
	bob.waitFor("syncFinish")

	// alice sends until the first ticket would have run out, and a bit.
	var (
		sent int
		wg   sync.WaitGroup
		err  error
	)
	wg.Go(func() {
		for time.Now().Before(expires.Add(1500 * time.Millisecond)) {
			if _, err = alice.SendMessage(ctx(t), sdk.NewTextMessage("m"), "bob"); err != nil {
				return
			}
			sent++
		}
	})
	imkittest.Eventually(t, "renewed on the server", func() bool { return ticketExpire(t, srv, "alice") > expires.Add(time.Minute).Unix() })
	wg.Wait()
	if err != nil {
		t.Fatalf("send #%d: %v", sent, err)
	}
	bob.waitCount("msg", sent)
	if got := alice.history(); slices.ContainsFunc(got, func(e event) bool { return e.kind == "expired" || e.kind == "kicked" }) ||
		alice.count("connecting") != 1 {
		t.Fatalf("alice's events %v: want one connection, no expiry", got)
	}
	if p.calls.Load() != 1 {
		t.Fatalf("provider called %d times, want 1", p.calls.Load())
	}
	wantOnline(t, "alice", alice)
}

// A ticket shorter than the lead time still works: with a provider it is
// renewed soon after the login; without one it expires cleanly.
func TestTicketShorterThanLead(t *testing.T) {
	t.Parallel()
	srv := imkittest.RunServer(t, withLead(time.Hour))
	p := &provider{t: t, life: 30 * time.Minute} // still shorter than the lead
	renewing := newClient(t, srv.URL, imkit.PlatformAndroid, withInstance("renewing"), withProvider(p.get))
	plain := newClient(t, srv.URL, imkit.PlatformWeb, withInstance("plain"))
	sig, expires := shortTicket(t, "alice", 2*time.Second)
	if err := renewing.loginWith("alice", sig); err != nil {
		t.Fatal(err)
	}
	if err := plain.loginWith("alice", sig); err != nil {
		t.Fatal(err)
	}
	plain.waitFor("expired")
	wantLoggedOut(t, plain)
	wantInstances(t, srv, "alice", "renewing")
	if ticketExpire(t, srv, "alice") <= expires.Unix() {
		t.Fatal("the renewing instance was not renewed")
	}
	wantOnline(t, "renewing", renewing)
	// The renewed ticket is shorter than the lead too: it is warned about
	// again only half-way through, not in a loop.
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("provider called %d times, want 1", n)
	}
	if n := renewing.count("connecting"); n != 1 {
		t.Fatalf("events %v, want one connection", renewing.history())
	}
}

// A ticket that runs out while the SDK is offline: on its return the
// resume is refused and the SDK fires OnUserSigExpired, whether the server
// had noticed the dead link (and ended the session at expiry) or not.
func TestExpiredWhileOffline(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		cut  func(*imkittest.Proxy)
	}{
		{"blackholed", (*imkittest.Proxy).Offline},
		{"reset", func(p *imkittest.Proxy) { p.SetMode(imkittest.Refuse); p.Reset() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := imkittest.RunServer(t, withLead(time.Second))
			net := srv.Proxy()
			phone := newClient(t, net.URL(), imkit.PlatformAndroid, withInstance("phone"),
				withHeartbeat(100*time.Millisecond), withLoginTimeout(time.Second))
			sig, expires := shortTicket(t, "alice", 2*time.Second)
			if err := phone.loginWith("alice", sig); err != nil {
				t.Fatal(err)
			}
			phone.waitFor("syncFinish")
			tt.cut(net)
			phone.waitFor("connectFailed")
			imkittest.Eventually(t, "the ticket runs out", func() bool { return time.Now().After(expires.Add(time.Second)) })
			if got := phone.LoginStatus(); got != imkit.LoginStatusLogined {
				t.Fatalf("status while offline = %v, want LOGINED", got)
			}
			net.Online()
			phone.waitFor("expired")
			phone.waitMatch("connectFailed", func(e event) bool { return e.code == imkit.ErrSvrUserSigExpired })
			wantLoggedOut(t, phone)
			wantInstances(t, srv, "alice")
			if n := phone.count("kicked"); n != 0 {
				t.Fatalf("events %v", phone.history())
			}
		})
	}
}

// With a provider, a ticket that ran out while the SDK was offline is
// replaced before the resume: the session goes on.
func TestExpiredWhileOfflineWithProvider(t *testing.T) {
	t.Parallel()
	srv := imkittest.RunServer(t, withLead(time.Second))
	net := srv.Proxy()
	p := &provider{t: t, life: time.Hour}
	phone := newClient(t, net.URL(), imkit.PlatformAndroid, withInstance("phone"), withProvider(p.get))
	sig, expires := shortTicket(t, "alice", 2*time.Second)
	if err := phone.loginWith("alice", sig); err != nil {
		t.Fatal(err)
	}
	phone.waitFor("syncFinish")
	net.SetMode(imkittest.Refuse)
	net.Reset()
	phone.waitFor("connectFailed")
	imkittest.Eventually(t, "the ticket runs out", func() bool { return time.Now().After(expires.Add(time.Second)) })
	net.Online()
	phone.waitCount("connected", 2)
	wantOnline(t, "phone", phone)
	wantInstances(t, srv, "alice", "phone")
	if ticketExpire(t, srv, "alice") <= expires.Unix() {
		t.Fatal("the session resumed with the old ticket")
	}
	if n := phone.count("expired"); n != 0 {
		t.Fatalf("events %v", phone.history())
	}
}
