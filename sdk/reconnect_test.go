package sdk_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/protocol"
	"github.com/imkit/imkit/sdk"
)

// logins returns the day's count of logins (resumes do not count).
func logins(t testing.TB, srv *imkittest.Server) int {
	t.Helper()
	day := srv.Sessions.Day(time.Now())
	st, err := srv.Store.DayStats(context.Background(), imkittest.SDKAppID, day, day)
	if err != nil || len(st) != 1 {
		t.Fatalf("day stats: %v, %v", st, err)
	}
	return st[0].Logins
}

// watchStatus records every status but LOGINED the clients show until the
// test ends; call the returned func to get them.
func watchStatus(t testing.TB, cs ...*client) func() []imkit.LoginStatus {
	var (
		mu   sync.Mutex
		seen []imkit.LoginStatus
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			for _, c := range cs {
				if s := c.LoginStatus(); s != imkit.LoginStatusLogined {
					mu.Lock()
					seen = append(seen, s)
					mu.Unlock()
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond + time.Duration(len(cs))*10*time.Microsecond):
			}
		}
	}()
	var once sync.Once
	finish := func() { once.Do(func() { close(stop); <-done }) }
	t.Cleanup(finish)
	return func() []imkit.LoginStatus {
		finish()
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// After a server restart the SDK reconnects by itself and resumes the same
// session: the status stays LOGINED throughout, the app never calls Login,
// the resume counts as no new login, kicks nobody (not even the instance's
// own previous connection), and messages flow again.
func TestResumeAfterServerRestart(t *testing.T) {
	srv := imkittest.RunServer(t)
	phone := newClient(t, srv.URL, imkit.PlatformAndroid, withInstance("phone"))
	web := newClient(t, srv.URL, imkit.PlatformWeb, withInstance("web"))
	bob := newClient(t, srv.URL, imkit.PlatformIPhone, withInstance("bob"))
	for _, c := range []*client{phone, web, bob} {
		c.login(srv, map[*client]string{phone: "alice", web: "alice", bob: "bob"}[c])
		c.waitFor("syncFinish")
	}
	loginsBefore := logins(t, srv)
	statuses := watchStatus(t, phone, web)
	mPhone, mWeb := phone.mark(), web.mark()

	srv.Restart()
	if _, err := bob.SendMessage(ctx(t), sdk.NewTextMessage("after the restart"), "alice"); err != nil {
		t.Fatalf("send after restart: %v", err)
	}
	for _, c := range []*client{phone, web} {
		c.waitMatch("msg", func(e event) bool { return e.msg.Text() == "after the restart" })
		wantOnline(t, c.id(), c)
	}
	if s := statuses(); len(s) != 0 {
		t.Fatalf("the status left LOGINED during the restart: %v", s)
	}
	for c, mark := range map[*client]int{phone: mPhone, web: mWeb} {
		got := c.since(mark)
		if i, j := slices.Index(got, "connecting"), slices.Index(got, "connected"); i < 0 || j < i {
			t.Errorf("%s: events after the restart %v, want connecting then connected", c.id(), got)
		}
		if slices.Contains(got, "kicked") || slices.Contains(got, "expired") {
			t.Errorf("%s: events after the restart %v", c.id(), got)
		}
	}
	wantInstances(t, srv, "alice", "phone", "web")
	if got := logins(t, srv); got != loginsBefore {
		t.Errorf("logins counted: %d after the restart, %d before; a resume is not a login", got, loginsBefore)
	}
}

// A client that finds its link dead before the server does resumes on a
// new connection while the server still holds the old one: the server
// replaces it, and nobody is kicked.
func TestResumeReplacesStaleConnection(t *testing.T) {
	srv := imkittest.RunServer(t) // the server's heartbeat is 30 s: it notices nothing
	phone, net := phoneBehindProxy(t, srv, withHeartbeat(50*time.Millisecond))
	loginsBefore := logins(t, srv)
	mark := phone.mark()

	net.Blackhole() // this link goes silent; new ones pass
	imkittest.Eventually(t, "a new connection", func() bool { return slices.Contains(phone.since(mark), "connected") })
	wantOnline(t, "phone", phone)
	wantInstances(t, srv, "alice", "phone") // one connection: the old one was replaced
	if n := srv.Hub.Count(); n != 1 {
		t.Fatalf("%d connections on the server, want 1", n)
	}
	if got := logins(t, srv); got != loginsBefore {
		t.Errorf("logins: %d, want %d", got, loginsBefore)
	}
	roundTripVia(t, srv, phone, "alice")
}

// Dropped and reset links are resumed.
func TestReconnectAfterDropAndReset(t *testing.T) {
	srv := imkittest.RunServer(t)
	phone, net := phoneBehindProxy(t, srv)
	for _, cut := range []func(){net.Drop, net.Reset} {
		n := phone.count("connected")
		cut()
		phone.waitCount("connected", n+1)
		wantOnline(t, "phone", phone)
		roundTripVia(t, srv, phone, "alice")
	}
	// A slow link works, just slowly.
	net.SetDelay(20 * time.Millisecond)
	roundTripVia(t, srv, phone, "alice")
	if n := phone.count("kicked") + phone.count("expired"); n != 0 {
		t.Fatalf("events %v", phone.history())
	}
}

// Heartbeats find a link that went silent (a blackholed peer: no FIN, no
// RST) on both sides, within a few heartbeats: the SDK reconnects, and the
// server frees the connection while keeping the session to resume.
func TestHeartbeatFindsDeadLink(t *testing.T) {
	const beat = 100 * time.Millisecond
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.Heartbeat = beat
		c.IdleTimeout = 3 * beat
	}))
	phone, net := phoneBehindProxy(t, srv, withHeartbeat(beat), withLoginTimeout(time.Second))
	wantInstances(t, srv, "alice", "phone")
	mark := phone.mark()

	start := time.Now()
	net.Offline()
	// The server closes its side after IdleTimeout of silence...
	imkittest.Eventually(t, "the server frees the connection", func() bool { return srv.Hub.Count() == 0 })
	serverTook := time.Since(start)
	// ...and the SDK notices after 2.5 heartbeats without a frame.
	imkittest.Eventually(t, "the SDK notices", func() bool { return slices.Contains(phone.since(mark), "connecting") })
	sdkTook := time.Since(start)
	// Bounded by the configured heartbeat: a few hundred milliseconds, far
	// below the default settings' 75 to 90 s (the bound leaves room for a
	// loaded machine).
	if bound := 60 * beat; serverTook > bound || sdkTook > bound {
		t.Errorf("dead link found after %v (server) and %v (SDK), want well within %v", serverTook, sdkTook, bound)
	}
	if got := srv.ActiveInstances("alice"); !slices.Equal(got, []string{"phone"}) {
		t.Fatalf("active sessions %v, want the phone's, to resume", got)
	}
	if got := phone.LoginStatus(); got != imkit.LoginStatusLogined {
		t.Fatalf("status while offline = %v, want LOGINED", got)
	}
	net.Online()
	wantOnline(t, "phone", phone)
	wantInstances(t, srv, "alice", "phone")
}

// Calls made while the SDK reconnects wait for the connection up to their
// context's deadline (9520 when it passes), and go through once it is back.
func TestCallsWaitWhileReconnecting(t *testing.T) {
	srv := imkittest.RunServer(t)
	net := srv.Proxy()
	alice := newClient(t, net.URL(), imkit.PlatformAndroid, withInstance("alice"))
	bob := newClient(t, srv.URL, imkit.PlatformAndroid, withInstance("bob"))
	alice.login(srv, "alice")
	bob.login(srv, "bob")
	alice.waitFor("syncFinish")
	cutOff(net, alice)

	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := alice.SendMessage(short, sdk.NewTextMessage("too late"), "bob")
	wantErrCode(t, "send while offline", err, imkit.ErrNetWaitAckTimeout)
	if got := alice.LoginStatus(); got != imkit.LoginStatusLogined {
		t.Fatalf("status = %v, want LOGINED", got)
	}

	sent := make(chan error, 1)
	go func() {
		_, err := alice.SendMessage(ctx(t), sdk.NewTextMessage("waited"), "bob")
		sent <- err
	}()
	net.Online()
	if err := <-sent; err != nil {
		t.Fatalf("send that waited for the reconnect: %v", err)
	}
	bob.waitMatch("msg", func(e event) bool { return e.msg.Text() == "waited" })
	if bob.count("msg") != 1 {
		t.Fatalf("bob got %v", bob.history())
	}
}

// Logout while the SDK reconnects ends the session at once here, and on the
// server as soon as it can be reached within Logout's deadline; the SDK
// stops reconnecting.
func TestLogoutWhileReconnecting(t *testing.T) {
	srv := imkittest.RunServer(t)
	phone, net := phoneBehindProxy(t, srv)
	cutOff(net, phone)

	done := make(chan error, 1)
	go func() { done <- phone.Logout(ctx(t)) }()
	imkittest.Eventually(t, "LOGOUT at once", func() bool { return phone.LoginStatus() == imkit.LoginStatusLogout })
	mark := phone.mark()
	net.Online()
	if err := <-done; err != nil {
		t.Fatalf("logout: %v", err)
	}
	wantInstances(t, srv, "alice") // the server was told
	wantLoggedOut(t, phone)
	if got := phone.since(mark); slices.Contains(got, "connected") || slices.Contains(got, "kicked") {
		t.Fatalf("events after Logout: %v", got)
	}
}

// Logout while the server cannot be reached returns at its deadline; the
// session then ends on the server when its ticket runs out.
func TestLogoutWhileUnreachable(t *testing.T) {
	srv := imkittest.RunServer(t)
	phone, net := phoneBehindProxy(t, srv)
	net.Offline()
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := phone.Logout(short); err != nil {
		t.Fatalf("logout: %v", err)
	}
	wantLoggedOut(t, phone)
	if got := srv.ActiveInstances("alice"); !slices.Equal(got, []string{"phone"}) {
		t.Fatalf("active sessions %v, want the phone's (the server was not told)", got)
	}
}

// stormTimeout bounds the storm test's waits: generous, for a loaded
// machine and the race detector.
const stormTimeout = 3 * time.Minute

// waitUntil polls cond until it holds, or fails the test when ctx ends.
func waitUntil(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not in time", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stormSize is how many sessions the reconnect storm test resumes.
func stormSize() int {
	if testing.Short() {
		return 200
	}
	return 1000
}

// A reconnect storm: many sessions resume at once after a server restart,
// while messages for all of them are stored; every one is back LOGINED,
// nothing is lost, and no resume counts as a login.
func TestReconnectStorm(t *testing.T) {
	n := stormSize()
	srv := imkittest.RunServer(t)
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = newClient(t, srv.URL, imkit.Platforms[i%len(imkit.Platforms)],
			withInstance(fmt.Sprint("c", i)), withMemoryCache())
	}
	user := func(i int) string { return fmt.Sprintf("u%04d", i%n) }
	t0 := time.Now()
	parallel(t, n, 32, func(i int) error {
		return clients[i].loginWith(user(i), srv.Sign(user(i)))
	})
	t.Logf("logins %v", time.Since(t0))
	for _, c := range clients {
		c.waitFor("syncFinish")
	}
	t.Logf("synced %v", time.Since(t0))
	loginsBefore := logins(t, srv)
	statuses := watchStatus(t, clients...)

	long, cancel := context.WithTimeout(context.Background(), stormTimeout)
	defer cancel()
	t0 = time.Now()
	srv.Restart()
	t.Logf("restarted %v", time.Since(t0))
	defer func() { t.Logf("storm over %v", time.Since(t0)) }()
	// Meanwhile each user is sent a message (by the server, on behalf of
	// the previous user): stored while its instance may still be
	// resuming, it must arrive by push or by the sync after the resume.
	parallel(t, n, 64, func(i int) error {
		_, err := srv.Messages.Send(long, imkittest.SDKAppID, user(i), &protocol.SendRequest{
			To: user(i + 1), ClientMsgID: fmt.Sprint("storm-", i),
			Elems: []protocol.Elem{{Type: protocol.ElemText, Text: "from " + user(i)}},
		})
		return err
	})
	t.Logf("all sent %v", time.Since(t0))
	waitUntil(t, long, "all connected", func() bool {
		for _, c := range clients {
			if !c.Connected() {
				return false
			}
		}
		return true
	})
	t.Logf("all connected %v", time.Since(t0))
	// Each has its message: the conversation with its sender shows it,
	// unread; the one with the user it sent to shows that, read.
	for i, c := range clients {
		from, to := user(i+n-1), user(i+1)
		var convs []*sdk.Conversation
		conv := func(peer string) *sdk.Conversation {
			if i := slices.IndexFunc(convs, func(cv *sdk.Conversation) bool { return cv.Peer == peer }); i >= 0 {
				return convs[i]
			}
			return nil
		}
		waitUntil(t, long, c.id()+" gets its messages", func() bool {
			var err error
			convs, _, err = c.ConversationList(long, 0, 10)
			return err == nil && conv(from) != nil && conv(to) != nil
		})
		if cv := conv(from); cv.Unread != 1 || cv.LastMessage == nil || cv.LastMessage.Text() != "from "+from {
			t.Fatalf("%s: conversation with %s: %+v, want its message, unread", c.id(), from, cv)
		}
		if cv := conv(to); cv.Unread != 0 || cv.LastMessage == nil || cv.LastMessage.Text() != "from "+user(i) {
			t.Fatalf("%s: conversation with %s: %+v, want the message sent to it", c.id(), to, cv)
		}
		if c.LoginStatus() != imkit.LoginStatusLogined || !c.Connected() {
			t.Fatalf("%s: status %v, connected %v", c.id(), c.LoginStatus(), c.Connected())
		}
	}
	if s := statuses(); len(s) != 0 {
		t.Fatalf("statuses left LOGINED %d times", len(s))
	}
	if got := srv.Hub.Count(); got != n {
		t.Fatalf("%d connections on the server, want %d", got, n)
	}
	if got := logins(t, srv); got != loginsBefore {
		t.Fatalf("logins: %d after the storm, %d before", got, loginsBefore)
	}
}

// parallel runs f(0..n-1) on up to width goroutines and fails the test on
// the first error.
func parallel(t testing.TB, n, width int, f func(i int) error) {
	t.Helper()
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		mu     sync.Mutex
		errOne error
	)
	for range min(width, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if errOne == nil {
						errOne = fmt.Errorf("#%d: %w", i, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if errOne != nil {
		t.Fatal(errOne)
	}
}

// BenchmarkResumeAfterRestart measures how long N logged-in sessions take to
// be back after a server restart on the same data: from the moment the new
// server listens until every SDK has reported OnConnectSuccess (each try
// also syncs). The SDKs use the default backoff (200 ms doubling, full
// jitter). N is 1,000, or IMKIT_BENCH_SESSIONS. The server runs in a child
// process, so that client and server descriptors need not share one
// process's open-files limit.
func BenchmarkResumeAfterRestart(b *testing.B) {
	n := 1000
	if v := os.Getenv("IMKIT_BENCH_SESSIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("IMKIT_BENCH_SESSIONS=%q: want a positive number", v)
		}
	}
	srv := imkittest.RunServerProcess(b, imkittest.ProcessConfig{})
	var back atomic.Int64
	clients := make([]*sdk.SDK, n)
	for i := range clients {
		s, err := sdk.New(imkittest.SDKAppID, sdk.Config{
			ServerURL: srv.URL, Platform: imkit.PlatformAndroid, InstanceID: fmt.Sprint("c", i),
			Listener: sdk.Listener{OnConnectSuccess: func() { back.Add(1) }},
		})
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = s
	}
	defer func() {
		b.StopTimer()
		parallel(b, n, 64, func(i int) error { clients[i].UnInit(); return nil })
	}()
	parallel(b, n, 64, func(i int) error {
		u := fmt.Sprintf("u%05d", i)
		return clients[i].Login(context.Background(), u, imkittest.SignFor(b, u, 24*time.Hour))
	})
	b.ResetTimer()
	var total, pct90 time.Duration
	for range b.N {
		b.StopTimer()
		want := back.Load() + int64(n)
		srv.Stop()
		b.StartTimer()
		srv.Start()
		start := time.Now()
		var at90 time.Duration
		for back.Load() < want {
			if at90 == 0 && back.Load() >= want-int64(n)/10 {
				at90 = time.Since(start)
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("%d of %d sessions back after 5 minutes", int64(n)-(want-back.Load()), n)
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
		pct90 += at90
		b.StopTimer()
		for i, c := range clients {
			if c.LoginStatus() != imkit.LoginStatusLogined {
				b.Fatalf("client %d: status %v", i, c.LoginStatus())
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n), "sessions")
	b.ReportMetric(total.Seconds()/float64(b.N), "s-all-back")
	b.ReportMetric(pct90.Seconds()/float64(b.N), "s-90%-back")
	b.ReportMetric(float64(n)/(total.Seconds()/float64(b.N)), "resumes/s")
}

// A resume refused for good for another reason than a kick or an expiry
// (here: the session was logged out on the server meanwhile) ends the
// session: LOGOUT, one OnConnectFailed with the code, no reconnect.
func TestResumeOfEndedSession(t *testing.T) {
	srv := imkittest.RunServer(t)
	phone, net := phoneBehindProxy(t, srv)
	cutOff(net, phone)
	ss, err := srv.Store.ActiveSessions(context.Background(), imkittest.SDKAppID, []string{"alice"})
	if err != nil || len(ss) != 1 {
		t.Fatalf("active sessions: %v, %v", ss, err)
	}
	if err := srv.Sessions.Logout(context.Background(), ss[0]); err != nil {
		t.Fatal(err)
	}
	net.Online()
	phone.waitMatch("connectFailed", func(e event) bool { return e.code == imkit.ErrSDKNotLoggedIn })
	imkittest.Eventually(t, "LOGOUT", func() bool { return phone.LoginStatus() == imkit.LoginStatusLogout })
	wantLoggedOut(t, phone)
	n := 0
	for _, e := range phone.history() {
		if e.kind == "connectFailed" && e.code == imkit.ErrSDKNotLoggedIn {
			n++
		}
	}
	if n != 1 || phone.count("kicked")+phone.count("expired") != 0 {
		t.Fatalf("events %v: want one connectFailed(6014), no kick or expiry", phone.history())
	}
}

// With several servers, Login moves past one that cannot be reached, and
// a bad URL among them is refused at New.
func TestLoginMovesPastDeadServer(t *testing.T) {
	srv := imkittest.RunServer(t)
	dead := "ws://" + imkittest.FreeAddr(t)
	c := newClient(t, dead, imkit.PlatformAndroid, func(cfg *sdk.Config) { cfg.ServerURLs = []string{srv.URL} })
	c.login(srv, "alice")
	if c.LoginStatus() != imkit.LoginStatusLogined {
		t.Fatalf("status = %v, want LOGINED", c.LoginStatus())
	}
	_, err := sdk.New(imkittest.SDKAppID, sdk.Config{ServerURL: srv.URL, ServerURLs: []string{"ftp://x"}, Platform: imkit.PlatformWeb})
	wantErrCode(t, "New with a bad ServerURLs entry", err, imkit.ErrInvalidParameters)
}
