package web_test

import (
	"context"
	"slices"
	"testing"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
)

// A tab behind a faulty network: heartbeats find a silent link, the tab
// resumes when the network is back (no new login) and gets what it missed
// once; a tab kicked while it was away is told when it comes back; the
// browser's online event cuts a long backoff short.
func TestBrowserNetworkLoss(t *testing.T) {
	srv := imkittest.RunServer(t)
	net := srv.Proxy()
	b := newBrowser(t)
	tb := b.open(srv.URL)
	// Each try is bounded by 2 s: a try made while the network swallows
	// everything fails then, and the next one gets through.
	tb.create("a", `{ serverURL: `+js(net.URL())+`, heartbeatMs: 300, timeoutMs: 2000 }`)
	tb.login("a", "alice", srv.Sign("alice"))
	bob := newPeer(t, srv.URL, imkit.PlatformAndroid)
	bob.login("bob")
	sessions := func() []string {
		ss, err := srv.Store.ActiveSessions(context.Background(), imkittest.SDKAppID, []string{"alice"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range ss {
			ids = append(ids, s.ID)
		}
		return ids
	}
	first := sessions()

	// The network goes silent: the heartbeat finds out, the tab reconnects
	// when it is back, and the message sent meanwhile arrives once.
	net.Offline()
	tb.eval(`await h.until("a", () => h.net("a", "connecting") === 2, "CONNECTING after the link went silent")`, nil)
	bob.send("while away", "alice")
	net.Online()
	tb.eval(`await h.until("a", () => h.net("a", "connected") === 2, "CONNECTED again")`, nil)
	bob.send("back", "alice")
	tb.eval(`await h.until("a", () => h.received("a").includes("back"), "the message after")`, nil)
	var got []string
	tb.eval(`return h.received("a")`, &got)
	if n := countOf(got, "while away"); n != 1 {
		t.Errorf("the message sent while away arrived %d times, want 1 (%q)", n, got)
	}

	if n := tb.names("a"); countOf(n, "sdkStateReady") != 1 {
		t.Errorf("events %v: want one SDK_READY (a resume is not a login)", n)
	}
	if got := sessions(); len(first) != 1 || !slices.Equal(got, first) {
		t.Errorf("alice's sessions on the server: %v before, %v after; want the same one (resumed)", first, got)
	}

	// Kicked while away: told when it comes back (the resume is refused with 6208).
	net.SetMode(imkittest.Refuse)
	net.Reset()
	tb.eval(`await h.until("a", () => h.net("a", "connecting") === 3, "CONNECTING again")`, nil)
	goWeb := newPeer(t, srv.URL, imkit.PlatformWeb)
	goWeb.login("alice")
	net.Online()
	var k struct{ Type, Platform string }
	tb.eval(`return (await h.event("a", "kickedOut")).data`, &k)
	if k.Type != "multipleDevice" || k.Platform != "Web" {
		t.Errorf("kicked while away: %+v, want multipleDevice by Web", k)
	}
	tb.eval(`await h.event("a", "sdkStateNotReady")`, nil)
	if got := srv.OnlineInstances("alice"); len(got) != 1 {
		t.Errorf("alice online: %d instances, want 1 (the Go SDK's): no kick back", len(got))
	}

	// A long backoff, cut short by the browser's online event.
	tb.create("c", `{ serverURL: `+js(net.URL())+`, reconnectMinMs: 60000, reconnectMaxMs: 60000 }`)
	tb.login("c", "carol", srv.Sign("carol"))
	net.SetMode(imkittest.Refuse)
	net.Reset()
	tb.eval(`await h.until("c", () => h.net("c", "connecting") === 2, "CONNECTING")`, nil)
	// A send made while the link is down waits for the resume, then goes once.
	tb.eval(`window.pending = h.settle(h.chat("c").sendMessage(h.chat("c").createTextMessage({ to: "bob", conversationType: "C2C", payload: { text: "sent while away" } })))`, nil)
	net.Online()
	tb.eval(`window.dispatchEvent(new Event("online"));
		await h.until("c", () => h.net("c", "connected") === 2, "CONNECTED soon after the online event", 10000)`, nil)
	var pending result
	tb.eval(`return await window.pending`, &pending)
	if pending.Code != 0 {
		t.Errorf("the send made while away: code %d (%s), want success after the resume", pending.Code, pending.Message)
	}
	imkittest.Eventually(t, "bob gets the message sent while away", func() bool { return bob.received("sent while away") == 1 })
}
