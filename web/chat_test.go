package web_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/usersig"
)

// Login, status, repeat login, logout and destroy, as Tencent's Web SDK
// has them; every call but the conversation list needs a login (6014).
func TestBrowserLoginLogout(t *testing.T) {
	srv := imkittest.RunServer(t)
	b := newBrowser(t)
	tb := b.open(srv.URL)
	tb.create("a", "")

	var st struct {
		Ready  bool   `json:"ready"`
		User   string `json:"user"`
		Status int    `json:"status"`
	}
	status := `const c = h.chat("a"); return { ready: c.isReady(), user: c.getLoginUser(), status: c.getLoginStatus() }`
	tb.eval(status, &st)
	if st.Ready || st.User != "" || st.Status != 3 {
		t.Errorf("before login: %+v, want not ready, no user, status 3 (LOGOUT)", st)
	}
	tb.wantCode("send before login", `h.chat("a").sendMessage(h.chat("a").createTextMessage({ to: "bob", conversationType: "C2C", payload: { text: "x" } }))`, imkit.ErrSDKNotLoggedIn)
	tb.wantCode("message list before login", `h.chat("a").getMessageList({ conversationID: "C2Cbob" })`, imkit.ErrSDKNotLoggedIn)
	tb.wantCode("conversation list before any login", `h.chat("a").getConversationList()`, imkit.ErrSDKNotLoggedIn)

	r := tb.mustCall(`h.chat("a").login({ userID: "alice", userSig: ` + js(srv.Sign("alice")) + ` })`)
	if string(r.Data) != `{"repeatLogin":false}` {
		t.Errorf("login data = %s, want {repeatLogin:false}", r.Data)
	}
	tb.eval(`await h.event("a", "sdkStateReady")`, nil)
	tb.eval(status, &st)
	if !st.Ready || st.User != "alice" || st.Status != 1 {
		t.Errorf("after login: %+v, want ready, alice, status 1 (LOGINED)", st)
	}
	if got := srv.OnlineInstances("alice"); len(got) != 1 {
		t.Errorf("alice online on the server: %d instances, want 1", len(got))
	}
	r = tb.mustCall(`h.chat("a").login({ userID: "alice", userSig: ` + js(srv.Sign("alice")) + ` })`)
	if string(r.Data) != `{"repeatLogin":true}` {
		t.Errorf("repeat login data = %s, want {repeatLogin:true}", r.Data)
	}
	wantEvents(t, "a", tb.names("a"), "net:connecting", "net:connected", "sdkStateReady")

	tb.mustCall(`h.chat("a").logout()`)
	tb.eval(`await h.event("a", "sdkStateNotReady")`, nil)
	tb.eval(status, &st)
	if st.Ready || st.User != "" || st.Status != 3 {
		t.Errorf("after logout: %+v, want not ready, no user, status 3", st)
	}
	tb.wantCode("send after logout", `h.chat("a").sendMessage(h.chat("a").createTextMessage({ to: "bob", conversationType: "C2C", payload: { text: "x" } }))`, imkit.ErrSDKNotLoggedIn)
	imkittest.Eventually(t, "alice offline on the server", func() bool { return len(srv.OnlineInstances("alice")) == 0 })

	// A login while another runs: 7501; a logout during a login: 6023.
	tb.eval(`
		const c = h.chat("a");
		window.first = h.settle(c.login({ userID: "alice", userSig: `+js(srv.Sign("alice"))+` }));
		window.second = await h.settle(c.login({ userID: "alice", userSig: `+js(srv.Sign("alice"))+` }));`, nil)
	var second, first result
	tb.eval(`return window.second`, &second)
	tb.eval(`return await window.first`, &first)
	if second.Code != int(imkit.ErrLoginInProcess) || first.Code != 0 {
		t.Errorf("two logins at once: first %d, second %d; want 0 and 7501", first.Code, second.Code)
	}
	tb.mustCall(`h.chat("a").logout()`)
	tb.eval(`
		const c = h.chat("a");
		window.login = h.settle(c.login({ userID: "alice", userSig: `+js(srv.Sign("alice"))+` }));
		await c.logout();`, nil)
	tb.eval(`return await window.login`, &first)
	if first.Code != int(imkit.ErrLoggedOutBeforeLogin) {
		t.Errorf("logout during login: login settled with %d (%s), want 6023", first.Code, first.Message)
	}
	imkittest.Eventually(t, "the abandoned login logged out on the server", func() bool { return len(srv.OnlineInstances("alice")) == 0 })

	// Account switch: logging in as bob ends alice's session (not a kick).
	tb.login("a", "alice", srv.Sign("alice"))
	tb.login("a", "bob", srv.Sign("bob"))
	tb.eval(status, &st)
	if st.User != "bob" {
		t.Errorf("after switching: user %q, want bob", st.User)
	}
	imkittest.Eventually(t, "alice's session ended on the server", func() bool { return len(srv.OnlineInstances("alice")) == 0 })

	// Destroy logs out and releases: every later call is 6013.
	tb.eval(`await h.chat("a").destroy()`, nil)
	imkittest.Eventually(t, "bob offline after destroy", func() bool { return len(srv.OnlineInstances("bob")) == 0 })
	tb.wantCode("login after destroy", `h.chat("a").login({ userID: "alice", userSig: `+js(srv.Sign("alice"))+` })`, imkit.ErrSDKNotInitialized)
	tb.wantCode("conversation list after destroy", `h.chat("a").getConversationList()`, imkit.ErrSDKNotInitialized)
	if n := tb.names("a"); slices.Contains(n, "kicked:multipleAccount") || slices.Contains(n, "kicked:multipleDevice") {
		t.Errorf("a was kicked: %v", n)
	}
}

// Every ticket refusal reaches the app with the Go SDK's code, and leaves
// the chat logged out.
func TestBrowserTicketErrors(t *testing.T) {
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.MaxFailures = 3
		c.LockDuration = time.Hour
	}))
	b := newBrowser(t)
	tb := b.open(srv.URL)
	tb.create("a", "")
	tb.create("other", `{ SDKAppID: 1400000099 }`)
	sign := func(app uint64, key, user string, at time.Time, life time.Duration) string {
		t.Helper()
		sig, err := usersig.SignTicket(key, usersig.Ticket{SDKAppID: app, Identifier: user, Time: at.Unix(), Expire: int64(life / time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	const otherKey = "0000000000000000000000000000000000000000000000000000000000000000"
	now := time.Now()
	login := func(chat, user, sig string) string {
		return `h.chat(` + js(chat) + `).login({ userID: ` + js(user) + `, userSig: ` + js(sig) + ` })`
	}
	for _, tc := range []struct {
		what string
		expr string
		want imkit.Code
	}{
		{"bad userID", login("a", "no spaces", "x"), imkit.ErrInvalidIdentifier},
		{"empty ticket", login("a", "u1", ""), imkit.ErrSvrUserSigEmpty},
		{"undecodable ticket", login("a", "u2", "not-a-ticket"), imkit.ErrSvrUserSigCheckFailed},
		{"expired ticket", login("a", "u3", sign(imkittest.SDKAppID, imkittest.Key, "u3", now.Add(-2*time.Hour), time.Hour)), imkit.ErrUserSigExpired},
		{"wrong key", login("a", "u4", sign(imkittest.SDKAppID, otherKey, "u4", now, time.Hour)), imkit.ErrSvrUserSigMismatchKey},
		{"another user's ticket", login("a", "u5", srv.Sign("u6")), imkit.ErrSvrUserSigMismatchID},
		{"another app's ticket", login("a", "u7", sign(1400000002, imkittest.Key, "u7", now, time.Hour)), imkit.ErrSvrUserSigMismatchApp},
		{"unknown app", login("other", "u8", sign(1400000099, imkittest.Key, "u8", now, time.Hour)), imkit.ErrSvrSDKAppIDNotFound},
	} {
		tb.wantCode(tc.what, tc.expr, tc.want)
		var st int
		tb.eval(`return h.chat("a").getLoginStatus()`, &st)
		if st != 3 {
			t.Errorf("%s: status %d after the refusal, want 3 (LOGOUT)", tc.what, st)
		}
	}

	// Too many bad tickets lock the user out, even with a good one: 70050.
	for i := 0; i < 3; i++ {
		tb.wantCode("wrong key", login("a", "locked", sign(imkittest.SDKAppID, otherKey, "locked", now, time.Hour)), imkit.ErrSvrUserSigMismatchKey)
	}
	tb.wantCode("good ticket while locked out", login("a", "locked", srv.Sign("locked")), imkit.ErrSvrAccountFreqLimit)

	// An admin kick revokes the tickets signed before it: 70052.
	old := sign(imkittest.SDKAppID, imkittest.Key, "kicked", now.Add(-time.Minute), time.Hour)
	tb.login("a", "kicked", old)
	if _, err := srv.Sessions.KickUser(context.Background(), imkittest.SDKAppID, "kicked"); err != nil {
		t.Fatal(err)
	}
	var k struct{ Type string }
	tb.eval(`return (await h.event("a", "kickedOut")).data`, &k)
	if k.Type != "REST_API_Kick" {
		t.Errorf("admin kick: KICKED_OUT type %q, want REST_API_Kick", k.Type)
	}
	tb.wantCode("ticket signed before an admin kick", login("a", "kicked", old), imkit.ErrSvrInvalidUserSig)
	tb.login("a", "kicked", srv.Sign("kicked"))

	// Refused logins fire no SDK_NOT_READY (they were never ready); the kick did once.
	if n := tb.names("a"); countOf(n, "sdkStateNotReady") != 1 {
		t.Errorf("events: %v; want SDK_NOT_READY once (the admin kick)", n)
	}
}

// A Go SDK login kicks a browser tab, with Tencent's kick types, and the tab
// never comes back by itself; a tab's login kicks a Go SDK instance.
func TestBrowserKicks(t *testing.T) {
	srv := imkittest.RunServer(t)
	b := newBrowser(t)
	tb := b.open(srv.URL)
	tb.create("tab", "")

	// Dual policy, one Web instance: a Go SDK Web login kicks the tab as a
	// login on another device (Tencent's MULT_DEVICE; a tab of the same
	// browser would be MULT_ACCOUNT, see TestBrowserElevenTabs).
	tb.login("tab", "alice", srv.Sign("alice"))
	goWeb := newPeer(t, srv.URL, imkit.PlatformWeb)
	before := time.Now()
	goWeb.login("alice")
	var k struct {
		Type     string `json:"type"`
		Platform string `json:"platform"`
		Time     int64  `json:"time"`
	}
	tb.eval(`return (await h.event("tab", "kickedOut")).data`, &k)
	if k.Type != "multipleDevice" || k.Platform != "Web" || k.Time < before.Add(-time.Second).UnixMilli() {
		t.Errorf("kicked by a Go SDK Web login: %+v, want multipleDevice by Web, time after %d", k, before.UnixMilli())
	}
	tb.eval(`await h.event("tab", "sdkStateNotReady")`, nil)
	wantEvents(t, "tab", tb.names("tab"), "sdkStateReady", "kicked:multipleDevice", "net:disconnected", "sdkStateNotReady")
	goWeb.UnInit()

	// Single policy: a Go SDK Android login kicks the tab as another device
	// (MULT_DEVICE), by Android.
	srv.SetPolicy(imkit.PolicySingle, nil)
	tb.login("tab", "alice", srv.Sign("alice"))
	android := newPeer(t, srv.URL, imkit.PlatformAndroid)
	android.login("alice")
	tb.eval(`return (await h.event("tab", "kickedOut", 2)).data`, &k)
	if k.Type != "multipleDevice" || k.Platform != "Android" {
		t.Errorf("kicked by a Go SDK Android login: %+v, want multipleDevice by Android", k)
	}
	tb.eval(`await h.event("tab", "sdkStateNotReady", 2)`, nil)

	// The reverse: the tab's login kicks the Go SDK (multi-device, by Web).
	tb.login("tab", "alice", srv.Sign("alice"))
	imkittest.Eventually(t, "the Go SDK kicked", func() bool { return len(android.kicked()) == 1 })
	if got := android.kicked()[0]; got.Reason != imkit.KickMultiDevice || got.Platform != imkit.PlatformWeb {
		t.Errorf("Go SDK kicked: %+v, want multi-device by Web", got)
	}
	if st := android.LoginStatus(); st != imkit.LoginStatusLogout {
		t.Errorf("Go SDK status after the kick: %v, want LOGOUT", st)
	}

	// The kicked tab never came back by itself: only the tab is online,
	// and the tab's first kick left it logged out until it logged in again.
	if got := srv.OnlineInstances("alice"); len(got) != 1 {
		t.Errorf("alice online: %d instances, want 1 (the tab)", len(got))
	}
	var st int
	tb.eval(`return h.chat("tab").getLoginStatus()`, &st)
	if st != 1 {
		t.Errorf("the tab's status: %d, want 1", st)
	}
	if n := tb.names("tab"); countOf(n, "kicked:multipleDevice") != 2 || countOf(n, "sdkStateReady") != 3 {
		t.Errorf("the tab's events: %v; want two kicks (multipleDevice) and three SDK_READY (one per login)", n)
	}
}

// Without a UserSigProvider the session ends when the ticket runs out:
// KICKED_OUT (USERSIG_EXPIRED), then SDK_NOT_READY; a new ticket logs in
// again.
func TestBrowserTicketExpiry(t *testing.T) {
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) { c.ExpiryLead = time.Second }))
	b := newBrowser(t)
	tb := b.open(srv.URL)
	tb.create("a", "")
	short := imkittest.SignFor(t, "alice", 2*time.Second)
	tb.login("a", "alice", short)
	tb.eval(`await h.event("a", "sdkStateNotReady")`, nil)
	wantEvents(t, "a", tb.names("a"), "sdkStateReady", "kicked:userSigExpired", "net:disconnected", "sdkStateNotReady")
	if n := tb.names("a"); slices.Contains(n, "net:connecting") && slices.Index(n, "net:connecting") > slices.Index(n, "sdkStateReady") {
		t.Errorf("the expired tab tried to reconnect: %v", n)
	}
	tb.wantCode("login with the expired ticket", `h.chat("a").login({ userID: "alice", userSig: `+js(short)+` })`, imkit.ErrUserSigExpired)
	tb.login("a", "alice", srv.Sign("alice"))
}

// With a UserSigProvider the ticket is renewed on the same connection:
// no reconnect, no kick, and the server holds the new expiry.
func TestBrowserTicketRenewal(t *testing.T) {
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) { c.ExpiryLead = time.Second }))
	b := newBrowser(t)
	tb := b.open(srv.URL)
	long := imkittest.SignFor(t, "alice", time.Hour)
	tb.create("a", `{ userSigProvider: async (user) => { window.asked = user; return `+js(long)+`; } }`)
	tb.login("a", "alice", imkittest.SignFor(t, "alice", 3*time.Second))
	imkittest.Eventually(t, "the server holds the renewed expiry", func() bool {
		ss, err := srv.Store.ActiveSessions(context.Background(), imkittest.SDKAppID, []string{"alice"})
		return err == nil && len(ss) == 1 && ss[0].TicketExpire > time.Now().Add(30*time.Minute).Unix()
	})
	var asked string
	tb.eval(`return window.asked`, &asked)
	if asked != "alice" {
		t.Errorf("the provider was asked for %q, want alice", asked)
	}
	// A message still arrives on the same connection.
	bob := newPeer(t, srv.URL, imkit.PlatformAndroid)
	bob.login("bob")
	bob.send("after renewal", "alice")
	tb.eval(`await h.until("a", () => h.received("a").includes("after renewal"), "the message")`, nil)
	n := tb.names("a")
	if c := countOf(n, "net:connected"); c != 1 || slices.Contains(n, "sdkStateNotReady") || slices.Contains(n, "kicked:userSigExpired") {
		t.Errorf("events: %v; want one connection, no kick", n)
	}
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
