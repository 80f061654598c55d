package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/sdk"
)

// Messages both ways between a tab and a Go SDK peer: text and custom,
// once each even when the tab sends the same message again, online-only
// ones, history paging, the conversation list and mark-read.
func TestBrowserMessagesWithGoPeer(t *testing.T) {
	srv := imkittest.RunServer(t)
	b := newBrowser(t)
	tb := b.open(srv.URL)
	tb.create("a", "")
	tb.login("a", "alice", srv.Sign("alice"))
	bob := newPeer(t, srv.URL, imkit.PlatformAndroid)
	bob.login("bob")

	// Go -> browser.
	bob.send("hello from go", "alice")
	var m struct {
		ID, ConversationID, From, To, Flow, Type, Status string
		Payload                                          struct{ Text string }
		Sequence                                         int
	}
	tb.eval(`await h.until("a", () => h.received("a").includes("hello from go"), "bob's message");
		return h.log("a").find((e) => e.name === "onMessageReceived").data[0]`, &m)
	if m.ConversationID != "C2Cbob" || m.From != "bob" || m.To != "alice" || m.Flow != "in" || m.Type != "TIMTextElem" || m.Sequence != 1 {
		t.Errorf("received: %+v", m)
	}

	// Browser -> Go, text and custom.
	r := tb.mustCall(`(() => { const c = h.chat("a");
		window.sent = c.createTextMessage({ to: "bob", conversationType: h.IMKitChat.TYPES.CONV_C2C, payload: { text: "hello from web" } });
		return c.sendMessage(window.sent); })()`)
	var sent struct {
		Message struct {
			Status, Flow, MsgID string
			Sequence            int
		}
	}
	json.Unmarshal(r.Data, &sent)
	if sent.Message.Status != "success" || sent.Message.Flow != "out" || sent.Message.MsgID == "" || sent.Message.Sequence != 2 {
		t.Errorf("sendMessage resolved %s", r.Data)
	}
	tb.mustCall(`h.chat("a").sendMessage(h.chat("a").createCustomMessage({ to: "bob", conversationType: "C2C", payload: { data: "{\"poke\":1}", description: "a poke", extension: "x" } }))`)
	imkittest.Eventually(t, "bob gets both", func() bool { return bob.received("hello from web") == 1 && bob.received(`{"poke":1}`) == 1 })

	// Sending the same message again stores and delivers nothing new.
	tb.mustCall(`h.chat("a").sendMessage(window.sent)`)
	tb.mustCall(`h.chat("a").sendMessage(h.chat("a").createTextMessage({ to: "bob", conversationType: "C2C", payload: { text: "after the resend" } }))`)
	imkittest.Eventually(t, "bob gets the next one", func() bool { return bob.received("after the resend") == 1 })
	if n := bob.received("hello from web"); n != 1 {
		t.Errorf("bob received the resent message %d times, want 1", n)
	}

	// Online-only: delivered, kept nowhere.
	tb.mustCall(`h.chat("a").sendMessage(h.chat("a").createTextMessage({ to: "bob", conversationType: "C2C", payload: { text: "typing" } }), { onlineUserOnly: true })`)
	imkittest.Eventually(t, "bob gets the online-only message", func() bool { return bob.received("typing") == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m2 := sdk.NewTextMessage("typing back")
	m2.OnlineUserOnly = true
	if _, err := bob.SendMessage(ctx, m2, "alice"); err != nil {
		t.Fatal(err)
	}
	var online bool
	tb.eval(`await h.until("a", () => h.received("a").includes("typing back"), "the online-only message");
		return h.log("a").filter((e) => e.name === "onMessageReceived").flatMap((e) => e.data).find((m) => m.payload.text === "typing back").onlineUserOnly`, &online)
	if !online {
		t.Error("the online-only message is not marked onlineUserOnly")
	}

	// History, oldest first within a page, paged with nextReqMessageID.
	for i := 0; i < 3; i++ {
		bob.send(fmt.Sprintf("page %d", i), "alice")
	}
	tb.eval(`await h.until("a", () => h.received("a").includes("page 2"), "page 2")`, nil)
	var pages []string
	tb.eval(`const c = h.chat("a"); const out = []; let next = "";
		for (;;) {
			const r = await c.getMessageList({ conversationID: "C2Cbob", nextReqMessageID: next, count: 2 });
			out.push(r.data.messageList.map((m) => m.payload.text ?? m.payload.description).join("|"));
			if (r.data.isCompleted) break;
			next = r.data.nextReqMessageID;
		}
		return out`, &pages)
	want := []string{"page 1|page 2", "after the resend|page 0", "hello from web|a poke", "hello from go"}
	if fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Errorf("history pages = %q, want %q", pages, want)
	}

	// The conversation list, then mark-read.
	var convs []struct {
		ConversationID string
		UnreadCount    int
		LastMessage    struct{ MessageForShow, FromAccount string }
	}
	list := `return (await h.chat("a").getConversationList()).data.conversationList`
	tb.eval(list, &convs)
	if len(convs) != 1 || convs[0].ConversationID != "C2Cbob" || convs[0].UnreadCount != 4 || convs[0].LastMessage.MessageForShow != "page 2" {
		t.Errorf("conversations = %+v, want C2Cbob with 4 unread, last page 2", convs)
	}
	tb.mustCall(`h.chat("a").setMessageRead({ conversationID: "C2Cbob" })`)
	tb.eval(list, &convs)
	if len(convs) != 1 || convs[0].UnreadCount != 0 {
		t.Errorf("after setMessageRead: %+v, want 0 unread", convs)
	}
	tb.wantCode("bad conversation ID", `h.chat("a").setMessageRead({ conversationID: "GROUPx" })`, imkit.ErrInvalidParameters)
	tb.wantCode("a body over 12 KB", `h.chat("a").sendMessage(h.chat("a").createTextMessage({ to: "bob", conversationType: "C2C", payload: { text: "x".repeat(13000) } }))`, imkit.ErrSvrBodySizeLimit)
	tb.wantCode("a frame over 64 KB", `h.chat("a").sendMessage(h.chat("a").createTextMessage({ to: "bob", conversationType: "C2C", payload: { text: "x".repeat(70000) } }))`, imkit.ErrNetPkgSizeLimit)
	tb.wantCode("a history page over 100", `h.chat("a").getMessageList({ conversationID: "C2Cbob", count: 500 })`, imkit.ErrInvalidParameters)
}

// A server killed with SIGKILL and started again: the tab goes CONNECTING,
// then CONNECTED on its own (no new login, no second SDK_READY), and a
// message sent around the restart arrives once.
func TestBrowserServerKillRestart(t *testing.T) {
	p := imkittest.RunServerProcess(t, imkittest.ProcessConfig{})
	b := newBrowser(t)
	tb := b.open(p.URL)
	tb.create("a", `{ reconnectMinMs: 200, reconnectMaxMs: 2000 }`)
	tb.login("a", "alice", imkittest.SignFor(t, "alice", time.Hour))
	tb.eval(`await h.until("a", () => h.chat("a").isReady(), "ready")`, nil)

	p.Kill()
	tb.eval(`await h.until("a", () => h.net("a", "connecting") === 2, "CONNECTING")`, nil)
	p.Start()
	carol := newPeer(t, p.URL, imkit.PlatformAndroid)
	carol.login("carol")
	carol.send("meanwhile", "alice")
	tb.eval(`await h.until("a", () => h.net("a", "connected") === 2, "CONNECTED again")`, nil)
	carol.send("after", "alice")
	tb.eval(`await h.until("a", () => h.received("a").includes("after"), "the message after")`, nil)
	var got []string
	tb.eval(`return h.received("a")`, &got)
	if n := countOf(got, "meanwhile"); n != 1 {
		t.Errorf("the message sent around the restart arrived %d times, want 1 (received %q)", n, got)
	}
	n := tb.names("a")
	wantEvents(t, "a", n, "net:connected", "sdkStateReady", "net:connecting", "net:connected")
	if c := countOf(n, "sdkStateReady"); c != 1 {
		t.Errorf("SDK_READY fired %d times, want once (a resume is not a login): %v", c, n)
	}
	var st int
	tb.eval(`return h.chat("a").getLoginStatus()`, &st)
	if st != 1 {
		t.Errorf("status after the restart: %d, want 1 (LOGINED)", st)
	}
}

// After a page reload the conversation list comes from IndexedDB before
// the login completes (here the server is down, so it cannot).
func TestBrowserConversationCacheAfterReload(t *testing.T) {
	srv := imkittest.RunServer(t)
	b := newBrowser(t)
	tb := b.open(srv.URL)
	tb.create("a", "")
	tb.login("a", "alice", srv.Sign("alice"))
	bob := newPeer(t, srv.URL, imkit.PlatformAndroid)
	bob.login("bob")
	bob.send("cached hello", "alice")
	tb.eval(`await h.until("a", () => h.log("a").some((e) => e.name === "onConversationListUpdated" &&
		e.data.some((c) => c.lastMessage && c.lastMessage.messageForShow === "cached hello")), "the conversation")`, nil)
	// Wait until the write reached IndexedDB (the tab could be closed at any time after).
	tb.eval(`const deadline = performance.now() + 10000;
		for (;;) {
			const db = await new Promise((ok, fail) => { const r = indexedDB.open("imkit-1400000001-alice"); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
			const c = await new Promise((ok) => { const r = db.transaction("conversations").objectStore("conversations").get("bob"); r.onsuccess = () => ok(r.result); r.onerror = () => ok(null); });
			db.close();
			if (c && c.lastMessage && c.lastMessage.elems[0].text === "cached hello") return;
			if (performance.now() > deadline) throw new Error("not in IndexedDB within 10s");
			await new Promise((ok) => setTimeout(ok, 20));
		}`, nil)

	tb.reload()
	srv.Stop()
	var got struct {
		Status int
		Convs  []struct {
			ConversationID string
			UnreadCount    int
			LastMessage    struct{ MessageForShow string }
		}
		Login result
	}
	tb.eval(`const c = h.create("a", {});
		const login = h.settle(c.login({ userID: "alice", userSig: `+js(imkittest.SignFor(t, "alice", time.Hour))+` }));
		const status = c.getLoginStatus();
		const convs = (await c.getConversationList()).data.conversationList;
		return { status, convs, login: await login }`, &got)
	if got.Status != 2 {
		t.Errorf("status while logging in: %d, want 2 (LOGINING)", got.Status)
	}
	if len(got.Convs) != 1 || got.Convs[0].ConversationID != "C2Cbob" || got.Convs[0].LastMessage.MessageForShow != "cached hello" || got.Convs[0].UnreadCount != 1 {
		t.Errorf("cached conversations = %+v, want C2Cbob, 1 unread, last \"cached hello\"", got.Convs)
	}
	if got.Login.Code != int(imkit.ErrNetDisconnected) {
		t.Errorf("login with the server down: code %d (%s), want 9508", got.Login.Code, got.Login.Message)
	}
	tb.wantCode("message list with the server down", `h.chat("a").getMessageList({ conversationID: "C2Cbob" })`, imkit.ErrSDKNotLoggedIn)

	// The server back, the login works and the list is the server's.
	srv.Start()
	tb.login("a", "alice", srv.Sign("alice"))
}

// Eleven tabs of one user with the Web limit at 10: the earliest is kicked
// (MULT_ACCOUNT: by another tab of the same browser), the ten others stay
// online.
func TestBrowserElevenTabs(t *testing.T) {
	srv := imkittest.RunServer(t)
	srv.SetPolicy(imkit.PolicyDual, map[imkit.Platform]int{imkit.PlatformWeb: 10})
	b := newBrowser(t)
	tabs := []*tab{b.open(srv.URL)}
	for i := 1; i < 11; i++ {
		tabs = append(tabs, b.newTab(srv.URL))
	}
	for i, tb := range tabs {
		tb.create("a", "")
		tb.login("a", "alice", srv.Sign("alice"))
		if i < 10 {
			if got := len(srv.OnlineInstances("alice")); got != i+1 {
				t.Fatalf("after %d tabs: %d online, want %d", i+1, got, i+1)
			}
		}
	}
	var k struct{ Type, Platform string }
	tabs[0].eval(`return (await h.event("a", "kickedOut")).data`, &k)
	if k.Type != "multipleAccount" || k.Platform != "Web" {
		t.Errorf("the first tab: kicked %+v, want multipleAccount by Web", k)
	}
	for i, tb := range tabs[1:] {
		var ready bool
		tb.eval(`return h.chat("a").isReady()`, &ready)
		if !ready {
			t.Errorf("tab %d is not ready: %v", i+1, tb.names("a"))
		}
	}
	imkittest.Eventually(t, "ten online", func() bool { return len(srv.OnlineInstances("alice")) == 10 })
}

// A new tab (an empty IndexedDB) is not sent the user's past: it gets the
// conversation list and reads history on demand; MESSAGE_RECEIVED is for
// what arrives after its login. Deleting a conversation removes it from the
// tab and from the user's other instances.
func TestBrowserNewDeviceAndDeleteConversation(t *testing.T) {
	srv := imkittest.RunServer(t)
	bob := newPeer(t, srv.URL, imkit.PlatformAndroid)
	bob.login("bob")
	for i := range 3 {
		bob.send(fmt.Sprint("past ", i), "alice")
	}
	carol := newPeer(t, srv.URL, imkit.PlatformAndroid)
	carol.login("carol")
	carol.send("from carol", "alice")

	b := newBrowser(t)
	tb := b.open(srv.URL)
	tb.create("a", "")
	tb.login("a", "alice", srv.Sign("alice"))
	var convs []struct {
		ConversationID string
		UnreadCount    int
	}
	tb.eval(`await h.until("a", () => h.log("a").some((e) => e.name === "onConversationListUpdated" && e.data.length === 2), "two conversations");
		return (await h.chat("a").getConversationList()).data.conversationList`, &convs)
	var total int
	tb.eval(`return h.chat("a").getTotalUnreadMessageCount()`, &total)
	if total != 4 {
		t.Errorf("total unread = %d, want 4 (conversations %+v)", total, convs)
	}
	var history []string
	tb.eval(`return (await h.chat("a").getMessageList({ conversationID: "C2Cbob" })).data.messageList.map((m) => m.payload.text)`, &history)
	if fmt.Sprint(history) != "[past 0 past 1 past 2]" {
		t.Errorf("history = %q, want the 3 past messages", history)
	}
	bob.send("new", "alice")
	tb.eval(`await h.until("a", () => h.received("a").includes("new"), "the new message")`, nil)
	var got []string
	tb.eval(`return h.received("a")`, &got)
	if fmt.Sprint(got) != "[new]" {
		t.Errorf("MESSAGE_RECEIVED told %q, want only the message after the login", got)
	}

	// Delete the conversation with carol; alice's Go SDK instance hears of it.
	deleted := make(chan []string, 1)
	s, err := sdk.New(imkittest.SDKAppID, sdk.Config{ServerURL: srv.URL, Platform: imkit.PlatformAndroid,
		Listener: sdk.Listener{OnConversationDeleted: func(peers []string) { deleted <- peers }}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.UnInit() })
	if err := s.Login(context.Background(), "alice", srv.Sign("alice")); err != nil {
		t.Fatal(err)
	}
	tb.mustCall(`h.chat("a").deleteConversation("C2Ccarol")`)
	tb.eval(`return (await h.chat("a").getConversationList()).data.conversationList`, &convs)
	if len(convs) != 1 || convs[0].ConversationID != "C2Cbob" {
		t.Errorf("conversations after deleting carol's = %+v, want bob's only", convs)
	}
	select {
	case peers := <-deleted:
		if fmt.Sprint(peers) != "[carol]" {
			t.Errorf("the Go instance was told of the deletion of %v, want carol", peers)
		}
	case <-time.After(10 * time.Second):
		t.Error("the Go instance was not told of the deletion within 10s")
	}
	tb.wantCode("deleting it again", `h.chat("a").deleteConversation("C2Ccarol")`, imkit.ErrInvalidParameters)
}
