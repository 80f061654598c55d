package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/restapi"
	"github.com/imkit/imkit/sdk"
)

// Every kind of event one node sends another arrives, and none fails to
// decode: kicks of each reason by each platform (Unknown included: an
// admin's kick has no platform), an admin's kick and an account deletion
// through another node's REST API, message pushes, read receipts and
// changes of the app's settings.
func TestEveryEventAcrossNodes(t *testing.T) {
	nodes := imkittest.RunCluster(t, 2, imkittest.WithConfig(func(c *server.Config) {
		c.AppCacheTTL = time.Hour // a change applies on node 1 only if it is told
	}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rest := restapi.NewClient(nodes[0].URL, imkittest.SDKAppID, imkittest.Admin, imkittest.Key)
	nodes[0].SetPolicy(imkit.PolicyMulti, nil)
	nodes[1].SetPolicy(imkit.PolicyMulti, nil)

	t.Run("kicks of every reason and platform", func(t *testing.T) {
		reasons := []imkit.KickReason{imkit.KickUnknown, imkit.KickMultiDevice, imkit.KickMultiInstance, imkit.KickAdmin}
		platforms := append([]imkit.Platform{imkit.PlatformUnknown}, imkit.Platforms...)
		type kicked struct {
			c    *client
			kick store.Kick
		}
		var all []kicked
		for _, r := range reasons {
			for _, p := range platforms {
				user := fmt.Sprintf("kick%d_%d", r, p)
				c := newClient(t, nodes[1].URL, imkit.PlatformAndroid)
				c.login(user)
				conns := nodes[1].Hub.Conns(imkittest.SDKAppID, user)
				if len(conns) != 1 {
					t.Fatalf("node 1 holds %d connections of %s, want 1", len(conns), user)
				}
				s := conns[0].Session()
				s.State = store.SessionKicked
				s.Kick = store.Kick{Reason: r, Platform: p, At: time.Now().Truncate(time.Millisecond)}
				nodes[0].Cluster.Kicked(ctx, []store.Session{s})
				all = append(all, kicked{c, s.Kick})
			}
		}
		for _, k := range all {
			k.c.until(fmt.Sprintf("the kick (%s by %s) reaches node 1", k.kick.Reason, k.kick.Platform), func() bool { return len(k.c.kicks) > 0 })
			if got := k.c.kicks[0]; got.Reason != k.kick.Reason || got.Platform != k.kick.Platform || !got.Time.Equal(k.kick.At) {
				t.Errorf("kick = %+v, want %+v", got, k.kick)
			}
		}
	})

	t.Run("admin kick through another node", func(t *testing.T) {
		c := newClient(t, nodes[1].URL, imkit.PlatformWeb)
		c.login("kicked_by_rest")
		if err := rest.Kick(ctx, "kicked_by_rest"); err != nil {
			t.Fatal(err)
		}
		c.until("the admin's kick reaches node 1", func() bool { return len(c.kicks) > 0 })
		if k := c.kicks[0]; k.Reason != imkit.KickAdmin || k.Platform != imkit.PlatformUnknown {
			t.Fatalf("kick = %+v, want admin, no platform", k)
		}
		if _, err := c.SendMessage(ctx, sdk.NewTextMessage("still here?"), "someone"); imkit.ErrorCode(err) != imkit.ErrSDKNotLoggedIn {
			t.Fatalf("a send after the kick: %v, want 6014", err)
		}
	})

	t.Run("account deletion through another node", func(t *testing.T) {
		c := newClient(t, nodes[1].URL, imkit.PlatformIPhone)
		c.login("deleted_by_rest")
		if _, err := rest.DeleteAccounts(ctx, []string{"deleted_by_rest"}); err != nil {
			t.Fatal(err)
		}
		c.until("the deletion's kick reaches node 1", func() bool { return len(c.kicks) > 0 })
		if k := c.kicks[0]; k.Reason != imkit.KickAdmin {
			t.Fatalf("kick = %+v, want admin", k)
		}
	})

	t.Run("pushes and read receipts", func(t *testing.T) {
		sender := newClient(t, nodes[0].URL, imkit.PlatformAndroid)
		senderWeb := newClient(t, nodes[1].URL, imkit.PlatformWeb)
		receiver := newClient(t, nodes[1].URL, imkit.PlatformIPhone)
		receiverWeb := newClient(t, nodes[0].URL, imkit.PlatformWeb)
		sender.login("pusher")
		senderWeb.login("pusher")
		receiver.login("pushed")
		receiverWeb.login("pushed")
		for _, c := range []*client{sender, senderWeb, receiver, receiverWeb} {
			c.until("first sync", func() bool { return c.synced > 0 })
		}
		if _, err := sender.SendMessage(ctx, sdk.NewTextMessage("across"), "pushed"); err != nil {
			t.Fatal(err)
		}
		receiver.until("the receiver on node 1 gets it", func() bool { return receiver.hasText("across") })
		senderWeb.until("the sender's other instance on node 1 gets it", func() bool { return senderWeb.hasText("across") })
		receiverWeb.until("the receiver's web (node 0) counts it unread", func() bool { return receiverWeb.convs["pusher"].Unread == 1 })
		if err := receiver.MarkConversationRead(ctx, "pusher"); err != nil {
			t.Fatal(err)
		}
		receiverWeb.until("the read receipt reaches node 0", func() bool {
			cv, ok := receiverWeb.convs["pusher"]
			return ok && cv.Unread == 0
		})
		if _, err := rest.SendMsg(ctx, &restapi.Message{From: "pusher", To: "pushed", Body: []restapi.Elem{restapi.Text("by rest")}}); err != nil {
			t.Fatal(err)
		}
		receiver.until("a REST message on node 0 reaches node 1", func() bool { return receiver.hasText("by rest") })
	})

	t.Run("app settings", func(t *testing.T) {
		if _, err := rest.SetPolicy(ctx, "single", nil); err != nil {
			t.Fatal(err)
		}
		imkittest.Eventually(t, "node 1 applies the policy set on node 0", func() bool {
			a, err := nodes[1].Sessions.App(ctx, imkittest.SDKAppID)
			return err == nil && a.Policy == imkit.PolicySingle
		})
		phone := newClient(t, nodes[1].URL, imkit.PlatformAndroid)
		phone.login("single")
		web := newClient(t, nodes[1].URL, imkit.PlatformWeb)
		web.login("single")
		phone.until("single-platform: the web login kicks the phone", func() bool { return len(phone.kicks) > 0 })
	})

	for i, n := range nodes {
		if got := n.Cluster.DecodeErrors(); got != 0 {
			t.Errorf("node %d could not decode %d messages", i, got)
		}
	}
}
