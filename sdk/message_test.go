package sdk_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/sdk"
)

func wantCode(t *testing.T, what string, err error, want imkit.Code) {
	t.Helper()
	var e *imkit.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: err = %v, want code %d", what, err, want)
	}
	if e.Code != want {
		t.Fatalf("%s: code = %d (%s), want %d", what, e.Code, e.Message, want)
	}
}

func TestSendAndReceiveAcrossDevices(t *testing.T) {
	srv := imkittest.RunServer(t)
	alicePhone := newClient(t, srv.URL, imkit.PlatformAndroid)
	aliceWeb := newClient(t, srv.URL, imkit.PlatformWeb)
	bobPhone := newClient(t, srv.URL, imkit.PlatformIPhone)
	alicePhone.login(srv, "alice")
	aliceWeb.login(srv, "alice")
	bobPhone.login(srv, "bob")
	for _, c := range []*client{alicePhone, aliceWeb, bobPhone} {
		c.waitFor("syncFinish")
	}

	sent, err := alicePhone.SendMessage(ctx(t), sdk.NewTextMessage("hello bob"), "bob")
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if sent.MsgID == "" || sent.Seq == 0 || sent.ConvSeq != 1 || sent.From != "alice" || sent.To != "bob" {
		t.Fatalf("sent = %+v, want a stored message with ConvSeq 1", sent)
	}
	got := bobPhone.waitFor("msg").msg
	if got.Text() != "hello bob" || got.From != "alice" || got.MsgID != sent.MsgID || got.ConvSeq != 1 {
		t.Fatalf("bob got %+v, want alice's message", got)
	}
	// The sender's other instance gets its own copy; the sending one does not.
	mine := aliceWeb.waitFor("msg").msg
	if mine.MsgID != sent.MsgID || mine.Seq != sent.Seq {
		t.Fatalf("alice's web got %+v, want the sent message with seq %d", mine, sent.Seq)
	}
	if n := alicePhone.count("msg"); n != 0 {
		t.Fatalf("the sending instance got %d pushes of its own message, want 0", n)
	}

	custom := sdk.NewCustomMessage(`{"kind":"poke"}`, "a poke", "ext")
	if _, err := bobPhone.SendMessage(ctx(t), custom, "alice"); err != nil {
		t.Fatalf("send custom: %v", err)
	}
	for _, c := range []*client{alicePhone, aliceWeb} {
		m := c.waitMatch("msg", func(e event) bool { return e.msg.From == "bob" }).msg
		if len(m.Elems) != 1 || m.Elems[0].Data != `{"kind":"poke"}` || m.Elems[0].Desc != "a poke" || m.Elems[0].Ext != "ext" || m.ConvSeq != 2 {
			t.Fatalf("alice got %+v, want bob's custom message with ConvSeq 2", m)
		}
	}
}

func TestSendRetryIsNotDuplicated(t *testing.T) {
	srv := imkittest.RunServer(t)
	alice := newClient(t, srv.URL, imkit.PlatformAndroid)
	bob := newClient(t, srv.URL, imkit.PlatformAndroid)
	alice.login(srv, "alice")
	bob.login(srv, "bob")
	bob.waitFor("syncFinish")

	msg := sdk.NewTextMessage("once")
	first, err := alice.SendMessage(ctx(t), msg, "bob")
	if err != nil {
		t.Fatal(err)
	}
	again, err := alice.SendMessage(ctx(t), msg, "bob") // a retry after, say, a timeout
	if err != nil {
		t.Fatal(err)
	}
	if again.MsgID != first.MsgID || again.Seq != first.Seq || again.ConvSeq != first.ConvSeq {
		t.Fatalf("retry = %+v, want the first send %+v", again, first)
	}
	if _, err := alice.SendMessage(ctx(t), sdk.NewTextMessage("twice"), "bob"); err != nil {
		t.Fatal(err)
	}
	bob.waitMatch("msg", func(e event) bool { return e.msg.Text() == "twice" })
	if n := bob.count("msg"); n != 2 {
		t.Fatalf("bob got %d messages, want 2: %v", n, bob.history())
	}
	h, _, err := bob.History(ctx(t), "alice", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 {
		t.Fatalf("history has %d messages, want 2", len(h))
	}
}

func TestMessagesWaitForOfflineAndNewUsers(t *testing.T) {
	srv := imkittest.RunServer(t)
	alice := newClient(t, srv.URL, imkit.PlatformAndroid)
	alice.login(srv, "alice")
	// carol has never logged in: her account is created by the message and
	// the messages wait for her.
	for i := 1; i <= 3; i++ {
		if _, err := alice.SendMessage(ctx(t), sdk.NewTextMessage(fmt.Sprint("m", i)), "carol"); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	// Her first device is a new device: the messages are in her
	// conversation list and history, not announced as new.
	carol := newClient(t, srv.URL, imkit.PlatformIPhone)
	carol.login(srv, "carol")
	carol.waitFor("syncFinish")
	if got := received(carol, (*sdk.Message).Text); len(got) != 0 {
		t.Fatalf("carol's new device was told of %q, want nothing", got)
	}
	h, _, err := carol.History(ctx(t), "alice", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(h); got != "m3,m2,m1" {
		t.Fatalf("carol's history = %q, want m3,m2,m1", got)
	}
	convs, _, err := carol.ConversationList(ctx(t), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 1 || convs[0].Peer != "alice" || convs[0].Unread != 3 || convs[0].LastMessage.Text() != "m3" {
		t.Fatalf("carol's conversations = %+v, want alice with 3 unread and m3 last", convs)
	}
}

func TestUnreadAndMarkReadAcrossDevices(t *testing.T) {
	srv := imkittest.RunServer(t)
	alice := newClient(t, srv.URL, imkit.PlatformAndroid)
	bobPhone := newClient(t, srv.URL, imkit.PlatformIPhone)
	bobWeb := newClient(t, srv.URL, imkit.PlatformWeb) // dual-platform: a phone plus Web
	alice.login(srv, "alice")
	bobPhone.login(srv, "bob")
	bobWeb.login(srv, "bob")
	bobPhone.waitFor("syncFinish")
	bobWeb.waitFor("syncFinish")

	for i := 0; i < 2; i++ {
		if _, err := alice.SendMessage(ctx(t), sdk.NewTextMessage("hi"), "bob"); err != nil {
			t.Fatal(err)
		}
	}
	unread := func(c *client) int {
		convs, _, err := c.ConversationList(ctx(t), 0, 10)
		if err != nil || len(convs) == 0 {
			return -1
		}
		return convs[0].Unread
	}
	imkittest.Eventually(t, "bob's phone sees 2 unread", func() bool { return unread(bobPhone) == 2 })
	imkittest.Eventually(t, "bob's web sees 2 unread", func() bool { return unread(bobWeb) == 2 })
	if err := bobPhone.MarkConversationRead(ctx(t), "alice"); err != nil {
		t.Fatal(err)
	}
	if got := unread(bobPhone); got != 0 {
		t.Fatalf("phone unread after mark read = %d, want 0", got)
	}
	imkittest.Eventually(t, "bob's web sees 0 unread", func() bool { return unread(bobWeb) == 0 })
	// alice's own sends are never unread for her.
	if got := unread(alice); got != 0 {
		t.Fatalf("alice's unread = %d, want 0", got)
	}
}

func TestHistoryPaging(t *testing.T) {
	srv := imkittest.RunServer(t)
	alice := newClient(t, srv.URL, imkit.PlatformAndroid)
	alice.login(srv, "alice")
	for i := 1; i <= 25; i++ {
		if _, err := alice.SendMessage(ctx(t), sdk.NewTextMessage(fmt.Sprint(i)), "bob"); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	before := uint64(0)
	for {
		page, more, err := alice.History(ctx(t), "bob", before, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			got = append(got, m.Text())
			before = m.ConvSeq
		}
		if !more {
			break
		}
	}
	if len(got) != 25 || got[0] != "25" || got[24] != "1" {
		t.Fatalf("history = %v, want 25 down to 1", got)
	}
}

func TestOrderUnderConcurrentSenders(t *testing.T) {
	srv := imkittest.RunServer(t)
	bob := newClient(t, srv.URL, imkit.PlatformAndroid)
	bob.login(srv, "bob")
	bob.waitFor("syncFinish")
	const senders, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := 0; i < senders; i++ {
		c := newClient(t, srv.URL, imkit.PlatformAndroid)
		c.login(srv, fmt.Sprint("sender", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if _, err := c.SendMessage(ctx(t), sdk.NewTextMessage(fmt.Sprint(j)), "bob"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	imkittest.Eventually(t, "bob gets every message", func() bool { return bob.count("msg") == senders*each })
	// Each sender's messages arrive in the order sent, and bob's mailbox
	// sequence has no gaps.
	next := map[string]int{}
	seqs := map[uint64]bool{}
	for _, e := range bob.history() {
		if e.kind != "msg" {
			continue
		}
		if want := fmt.Sprint(next[e.msg.From]); e.msg.Text() != want {
			t.Fatalf("from %s got %q, want %q", e.msg.From, e.msg.Text(), want)
		}
		next[e.msg.From]++
		seqs[e.msg.Seq] = true
	}
	for s := uint64(1); s <= senders*each; s++ {
		if !seqs[s] {
			t.Fatalf("bob's mailbox has no seq %d", s)
		}
	}
}

func TestAPIsNeedLoginButConversationList(t *testing.T) {
	srv := imkittest.RunServer(t)
	c := newClient(t, srv.URL, imkit.PlatformAndroid)
	_, err := c.SendMessage(ctx(t), sdk.NewTextMessage("x"), "bob")
	wantCode(t, "send before login", err, imkit.ErrSDKNotLoggedIn)
	wantCode(t, "mark read before login", c.MarkConversationRead(ctx(t), "bob"), imkit.ErrSDKNotLoggedIn)
	_, _, err = c.History(ctx(t), "bob", 0, 10)
	wantCode(t, "history before login", err, imkit.ErrSDKNotLoggedIn)

	// Fill the cache, log out, and read it before the next login succeeds
	// (and after one fails).
	c.login(srv, "alice")
	if _, err := c.SendMessage(ctx(t), sdk.NewTextMessage("cached"), "bob"); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout(ctx(t)); err != nil {
		t.Fatal(err)
	}
	_, err = c.SendMessage(ctx(t), sdk.NewTextMessage("x"), "bob")
	wantCode(t, "send after logout", err, imkit.ErrSDKNotLoggedIn)
	err = c.Login(ctx(t), "alice", imkittest.SignAt(t, "alice", srvNow().AddDate(0, 0, -2), 3600e9))
	wantCode(t, "login with an expired ticket", err, imkit.ErrUserSigExpired)
	convs, _, err := c.ConversationList(ctx(t), 0, 10)
	if err != nil {
		t.Fatalf("conversation list after a failed login: %v", err)
	}
	if len(convs) != 1 || convs[0].Peer != "bob" || convs[0].LastMessage.Text() != "cached" {
		t.Fatalf("cached conversations = %+v, want bob with \"cached\"", convs)
	}
}

func TestCacheIsolationBetweenAccounts(t *testing.T) {
	srv := imkittest.RunServer(t)
	c := newClient(t, srv.URL, imkit.PlatformAndroid)
	c.login(srv, "alice")
	if _, err := c.SendMessage(ctx(t), sdk.NewTextMessage("alice's secret"), "bob"); err != nil {
		t.Fatal(err)
	}
	c.login(srv, "dave") // account switch
	if got := c.LoginUser(); got != "dave" {
		t.Fatalf("LoginUser = %q, want dave", got)
	}
	convs, _, err := c.ConversationList(ctx(t), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 0 {
		t.Fatalf("dave sees %d conversations, want none of alice's: %+v", len(convs), convs)
	}
	c.login(srv, "alice")
	convs, _, err = c.ConversationList(ctx(t), 0, 10)
	if err != nil || len(convs) != 1 || convs[0].LastMessage.Text() != "alice's secret" {
		t.Fatalf("alice's conversations after switching back = %+v, %v", convs, err)
	}
}

func TestBadMessagesGetClearErrors(t *testing.T) {
	srv := imkittest.RunServer(t)
	c := newClient(t, srv.URL, imkit.PlatformAndroid)
	c.login(srv, "alice")
	_, err := c.SendMessage(ctx(t), sdk.NewTextMessage(strings.Repeat("x", 12<<10+1)), "bob")
	wantCode(t, "12 KB + 1 of text", err, imkit.ErrSvrBodySizeLimit)
	if _, err := c.SendMessage(ctx(t), sdk.NewTextMessage(strings.Repeat("x", 12<<10)), "bob"); err != nil {
		t.Fatalf("12 KB of text: %v", err)
	}
	_, err = c.SendMessage(ctx(t), sdk.NewTextMessage("x"), "no such user!")
	wantCode(t, "bad receiver", err, imkit.ErrInvalidIdentifier)
	_, err = c.SendMessage(ctx(t), &sdk.Message{ClientMsgID: "x", Elems: []sdk.Elem{{Type: "image"}}}, "bob")
	wantCode(t, "unknown element", err, imkit.ErrInvalidMsgElem)
	// The connection is still fine.
	if _, err := c.SendMessage(ctx(t), sdk.NewTextMessage("still ok"), "bob"); err != nil {
		t.Fatalf("send after errors: %v", err)
	}
}

// TestOnlineOnlyMessages: a message sent with OnlineUserOnly reaches the
// instances online now and nothing else: no seq, no cache, no
// conversation, no sync for an instance that logs in later.
func TestOnlineOnlyMessages(t *testing.T) {
	srv := imkittest.RunServer(t)
	alicePhone := newClient(t, srv.URL, imkit.PlatformAndroid)
	aliceWeb := newClient(t, srv.URL, imkit.PlatformWeb)
	bob := newClient(t, srv.URL, imkit.PlatformIPhone)
	for _, c := range []struct {
		*client
		user string
	}{{alicePhone, "alice"}, {aliceWeb, "alice"}, {bob, "bob"}} {
		c.login(srv, c.user)
		c.waitFor("syncFinish")
	}

	typing := sdk.NewCustomMessage(`{"typing":true}`, "", "")
	typing.OnlineUserOnly = true
	sent, err := alicePhone.SendMessage(ctx(t), typing, "bob")
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if sent.MsgID == "" || sent.Seq != 0 || sent.ConvSeq != 0 || !sent.OnlineUserOnly {
		t.Fatalf("sent = %+v, want a message ID and no seq", sent)
	}
	for _, c := range []*client{bob, aliceWeb} {
		m := c.waitFor("msg").msg
		if m.MsgID != sent.MsgID || m.Seq != 0 || !m.OnlineUserOnly || m.Elems[0].Data != `{"typing":true}` {
			t.Fatalf("got %+v, want the online-only message", m)
		}
	}
	// A stored message after it takes conversation seq 1: the online-only
	// one took nothing.
	stored, err := alicePhone.SendMessage(ctx(t), sdk.NewTextMessage("hello"), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if stored.ConvSeq != 1 {
		t.Fatalf("the stored message has ConvSeq %d, want 1", stored.ConvSeq)
	}
	bob.waitMatch("msg", func(e event) bool { return e.msg.Text() == "hello" })
	for _, c := range []*client{bob, alicePhone} {
		convs, _, err := c.ConversationList(ctx(t), 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(convs) != 1 || convs[0].LastMessage.Text() != "hello" || convs[0].Unread > 1 {
			t.Fatalf("conversations = %+v, want one, with the stored message last", convs)
		}
	}
	h, _, err := bob.History(ctx(t), "alice", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Text() != "hello" {
		t.Fatalf("history = %v, want only the stored message", h)
	}
	// An instance that logs in later finds the stored message only, in
	// its conversation list and its history.
	bobPad := newClient(t, srv.URL, imkit.PlatformIPad)
	bobPad.login(srv, "bob")
	bobPad.waitFor("syncFinish")
	convs, _, err := bobPad.ConversationList(ctx(t), 0, 10)
	if err != nil || len(convs) != 1 || convs[0].LastMessage.Text() != "hello" {
		t.Fatalf("a later instance's conversations = %+v, %v; want the stored message last", convs, err)
	}
	if h, _, err = bobPad.History(ctx(t), "alice", 0, 10); err != nil || texts(h) != "hello" {
		t.Fatalf("a later instance's history = %q, %v; want only the stored message", texts(h), err)
	}
}

// texts joins the messages' texts with commas.
func texts(ms []*sdk.Message) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text())
	}
	return strings.Join(out, ",")
}

// received returns f of each message c was told of (OnRecvNewMessage), in
// order.
func received(c *client, f func(*sdk.Message) string) []string {
	var out []string
	for _, e := range c.history() {
		if e.kind == "msg" {
			out = append(out, f(e.msg))
		}
	}
	return out
}
