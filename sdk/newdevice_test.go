package sdk_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/protocol"
	"github.com/imkit/imkit/sdk"
)

// stored numbers the batches of storeMessages, for unique client message IDs.
var stored atomic.Int64

// storeMessages sends n messages to user, from peers[i % len(peers)], on the
// server's side (as the REST API would), several at once.
func storeMessages(t *testing.T, srv *imkittest.Server, to string, peers []string, n int) {
	t.Helper()
	batch := stored.Add(1)
	parallel(t, n, 16, func(i int) error {
		_, err := srv.Messages.Send(ctx(t), imkittest.SDKAppID, peers[i%len(peers)], &protocol.SendRequest{
			To: to, ClientMsgID: fmt.Sprintf("batch%d-%d", batch, i),
			Elems: []protocol.Elem{{Type: protocol.ElemText, Text: fmt.Sprint(i)}},
		})
		return err
	})
}

// A new device (an empty cache) is not sent the mailbox: it gets the
// conversation list, with last messages and unread counts, and reads
// history when asked. What arrives after its login is new to it.
func TestNewDeviceGetsConversationsNotMailbox(t *testing.T) {
	srv := imkittest.RunServer(t)
	storeMessages(t, srv, "bob", []string{"alice", "carol", "dave"}, 30)
	bob := newClient(t, srv.URL, imkit.PlatformAndroid)
	bob.login(srv, "bob")
	bob.waitFor("syncFinish")
	if n := bob.count("msg"); n != 0 {
		t.Fatalf("the new device was told of %d messages, want 0", n)
	}
	convs, more, err := bob.ConversationList(ctx(t), 0, 10)
	if err != nil || more || len(convs) != 3 {
		t.Fatalf("conversations = %d (more %v), %v; want 3", len(convs), more, err)
	}
	for _, cv := range convs {
		if cv.Unread != 10 || cv.LastMessage == nil || cv.LastMessage.From != cv.Peer {
			t.Fatalf("conversation %+v: want 10 unread and the peer's last message", cv)
		}
	}
	if n, err := bob.TotalUnreadCount(ctx(t)); err != nil || n != 30 {
		t.Fatalf("total unread = %d, %v; want 30", n, err)
	}
	h, more, err := bob.History(ctx(t), "alice", 0, 100)
	if err != nil || more || len(h) != 10 || h[0].ConvSeq != 10 || h[9].ConvSeq != 1 {
		t.Fatalf("history = %d messages (more %v), %v; want conversation seqs 10 down to 1", len(h), more, err)
	}

	if _, err := srv.Messages.Send(ctx(t), imkittest.SDKAppID, "alice", &protocol.SendRequest{
		To: "bob", ClientMsgID: "after-login", Elems: []protocol.Elem{{Type: protocol.ElemText, Text: "new"}},
	}); err != nil {
		t.Fatal(err)
	}
	if m := bob.waitFor("msg").msg; m.Text() != "new" {
		t.Fatalf("got %q, want the message sent after the login", m.Text())
	}
	if n, err := bob.TotalUnreadCount(ctx(t)); err != nil || n != 31 {
		t.Fatalf("total unread = %d, %v; want 31", n, err)
	}
}

// A device that was away catches up on what it missed, in order, through
// OnRecvNewMessage, up to sdk.CatchUpLimit messages; one away for longer
// gets the conversation list instead, and new messages after that.
func TestDeviceBackCatchesUpToALimit(t *testing.T) {
	srv := imkittest.RunServer(t)
	bob := newClient(t, srv.URL, imkit.PlatformAndroid)
	bob.login(srv, "bob")
	bob.waitFor("syncFinish")
	if err := bob.Logout(ctx(t)); err != nil {
		t.Fatal(err)
	}

	storeMessages(t, srv, "bob", []string{"alice", "carol"}, 150)
	mark := bob.mark()
	bob.login(srv, "bob")
	bob.waitCount("msg", 150)
	var last uint64
	for _, e := range bob.history()[mark:] {
		if e.kind == "msg" {
			if e.msg.Seq != last+1 {
				t.Fatalf("caught up #%d after #%d, want the mailbox in order", e.msg.Seq, last)
			}
			last = e.msg.Seq
		}
	}
	if err := bob.Logout(ctx(t)); err != nil {
		t.Fatal(err)
	}

	storeMessages(t, srv, "bob", []string{"alice", "erin"}, sdk.CatchUpLimit+1)
	mark = bob.mark()
	bob.login(srv, "bob")
	imkittest.Eventually(t, "the sync after the login finishes", func() bool { return slices.Contains(bob.since(mark), "syncFinish") })
	for _, e := range bob.history()[mark:] {
		if e.kind == "msg" {
			t.Fatalf("a device %d messages behind was told of %s, want the conversation list only", sdk.CatchUpLimit+1, e)
		}
	}
	convs, _, err := bob.ConversationList(ctx(t), 0, 10)
	if err != nil || len(convs) != 3 {
		t.Fatalf("conversations = %+v, %v; want alice, carol and erin", convs, err)
	}
	if n, err := bob.TotalUnreadCount(ctx(t)); err != nil || n != 150+sdk.CatchUpLimit+1 {
		t.Fatalf("total unread = %d, %v; want %d", n, err, 150+sdk.CatchUpLimit+1)
	}
	if _, err := srv.Messages.Send(ctx(t), imkittest.SDKAppID, "erin", &protocol.SendRequest{
		To: "bob", ClientMsgID: "after", Elems: []protocol.Elem{{Type: protocol.ElemText, Text: "new"}},
	}); err != nil {
		t.Fatal(err)
	}
	if m := bob.waitMatch("msg", func(e event) bool { return e.msg.Text() == "new" }).msg; m.From != "erin" {
		t.Fatalf("got %+v, want erin's new message", m)
	}
	if n := bob.count("msg"); n != 151 {
		t.Fatalf("%d messages told, want the 150 caught up and the new one", n)
	}
}

// History pages read once are kept in the local cache: History serves them
// after a logout, and before the next login succeeds.
func TestHistoryFromTheCacheOffline(t *testing.T) {
	srv := imkittest.RunServer(t)
	storeMessages(t, srv, "bob", []string{"alice"}, 25)
	bob := newClient(t, srv.URL, imkit.PlatformAndroid)
	bob.login(srv, "bob")
	bob.waitFor("syncFinish")
	online, more, err := bob.History(ctx(t), "alice", 0, 20)
	if err != nil || !more || len(online) != 20 {
		t.Fatalf("history = %d messages (more %v), %v; want 20 and more", len(online), more, err)
	}
	if err := bob.Logout(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// A failed login leaves the cache readable.
	wantErrCode(t, "login with a wrong ticket", bob.loginWith("bob", srv.Sign("alice")), imkit.ErrSvrUserSigMismatchID)
	offline, more, err := bob.History(ctx(t), "alice", 0, 20)
	if err != nil || !more || texts(offline) != texts(online) {
		t.Fatalf("offline history = %q (more %v), %v; want %q", texts(offline), more, err, texts(online))
	}
	// Older than what was read: the cache has nothing more to give.
	older, _, err := bob.History(ctx(t), "alice", offline[19].ConvSeq, 20)
	if err != nil || len(older) != 0 {
		t.Fatalf("offline history before #%d = %q, %v; want nothing cached", offline[19].ConvSeq, texts(older), err)
	}
	_, err = bob.SendMessage(ctx(t), sdk.NewTextMessage("x"), "alice")
	wantErrCode(t, "SendMessage while logged out", err, imkit.ErrSDKNotLoggedIn)
}

// Deleting a conversation removes it, its history and its unread count for
// the user, on every one of the user's instances; the peer keeps theirs, and
// the next message starts it afresh.
func TestDeleteConversation(t *testing.T) {
	srv := imkittest.RunServer(t)
	storeMessages(t, srv, "alice", []string{"bob", "carol"}, 6)
	alicePhone := newClient(t, srv.URL, imkit.PlatformAndroid)
	aliceWeb := newClient(t, srv.URL, imkit.PlatformWeb)
	bob := newClient(t, srv.URL, imkit.PlatformIPhone)
	for _, c := range []*client{alicePhone, aliceWeb} {
		c.login(srv, "alice")
		c.waitFor("syncFinish")
	}
	bob.login(srv, "bob")
	bob.waitFor("syncFinish")

	if err := alicePhone.DeleteConversation(ctx(t), "bob"); err != nil {
		t.Fatal(err)
	}
	if e := aliceWeb.waitFor("convDel"); e.text != "bob" {
		t.Fatalf("alice's other instance was told of the deletion of %q, want bob", e.text)
	}
	for _, c := range []*client{alicePhone, aliceWeb} {
		convs, _, err := c.ConversationList(ctx(t), 0, 10)
		if err != nil || len(convs) != 1 || convs[0].Peer != "carol" {
			t.Fatalf("alice's conversations after deleting bob's = %+v, %v; want carol's only", convs, err)
		}
		if n, err := c.TotalUnreadCount(ctx(t)); err != nil || n != 3 {
			t.Fatalf("alice's total unread = %d, %v; want carol's 3", n, err)
		}
		if h, _, err := c.History(ctx(t), "bob", 0, 10); err != nil || len(h) != 0 {
			t.Fatalf("alice's history with bob = %q, %v; want none", texts(h), err)
		}
	}
	if h, _, err := bob.History(ctx(t), "alice", 0, 10); err != nil || len(h) != 3 {
		t.Fatalf("bob's history with alice = %q, %v; want his 3 messages kept", texts(h), err)
	}
	wantCode(t, "deleting it again", alicePhone.DeleteConversation(ctx(t), "bob"), imkit.ErrInvalidParameters)

	if _, err := bob.SendMessage(ctx(t), sdk.NewTextMessage("again"), "alice"); err != nil {
		t.Fatal(err)
	}
	alicePhone.waitMatch("msg", func(e event) bool { return e.msg.Text() == "again" })
	convs, _, err := alicePhone.ConversationList(ctx(t), 0, 1)
	if err != nil || len(convs) != 1 || convs[0].Peer != "bob" || convs[0].Unread != 1 || convs[0].LastMessage.Text() != "again" {
		t.Fatalf("alice's newest conversation = %+v, %v; want bob's afresh, 1 unread", convs, err)
	}
	if h, _, err := alicePhone.History(ctx(t), "bob", 0, 10); err != nil || texts(h) != "again" {
		t.Fatalf("alice's history with bob = %q, %v; want only the new message", texts(h), err)
	}
}

// The total unread count is right from OnSyncServerFinish, while the
// conversation list's later pages are still on their way; a conversation
// deleted on another device while this one was away leaves this one's list
// at its next login.
func TestTotalUnreadAndDeletionsWhileAway(t *testing.T) {
	srv := imkittest.RunServer(t)
	peers := make([]string, 150) // two pages of conversations
	for i := range peers {
		peers[i] = fmt.Sprintf("peer%03d", i)
	}
	storeMessages(t, srv, "bob", peers, 150)
	totals := make(chan int, 10)
	var phone *client
	phone = newClient(t, srv.URL, imkit.PlatformAndroid, func(c *sdk.Config) {
		c.Listener.OnSyncServerFinish = func() {
			n, err := phone.TotalUnreadCount(context.Background())
			if err != nil {
				n = -1
			}
			totals <- n
		}
	})
	phone.login(srv, "bob")
	if n := <-totals; n != 150 {
		t.Fatalf("total unread at OnSyncServerFinish = %d, want 150", n)
	}
	imkittest.Eventually(t, "the phone caches every conversation", func() bool {
		convs, _, err := phone.ConversationList(ctx(t), 0, 1000)
		return err == nil && len(convs) == 150
	})
	if err := phone.Logout(ctx(t)); err != nil {
		t.Fatal(err)
	}

	web := newClient(t, srv.URL, imkit.PlatformWeb)
	web.login(srv, "bob")
	web.waitFor("syncFinish")
	if err := web.DeleteConversation(ctx(t), "peer007"); err != nil {
		t.Fatal(err)
	}
	phone.login(srv, "bob")
	if n := <-totals; n != 149 {
		t.Fatalf("total unread at the next OnSyncServerFinish = %d, want 149", n)
	}
	if e := phone.waitFor("convDel"); e.text != "peer007" {
		t.Fatalf("the phone was told of the deletion of %q, want peer007", e.text)
	}
	convs, _, err := phone.ConversationList(ctx(t), 0, 1000)
	if err != nil || len(convs) != 149 || slices.ContainsFunc(convs, func(c *sdk.Conversation) bool { return c.Peer == "peer007" }) {
		t.Fatalf("the phone has %d conversations (%v), want 149 without peer007", len(convs), err)
	}
	if n, err := phone.TotalUnreadCount(ctx(t)); err != nil || n != 149 {
		t.Fatalf("total unread = %d, %v; want 149", n, err)
	}
}
