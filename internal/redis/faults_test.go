package redis_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/restapi"
	"github.com/imkit/imkit/sdk"
)

// promptly bounds what must not wait on Redis: generous, far above the
// usual milliseconds, far below what a stalled Redis costs without the
// deadlines (10 s and more).
const promptly = 5 * time.Second

// loginWithin logs c in as user within d.
func (c *client) loginWithin(user string, d time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := c.Login(ctx, user, imkittest.SignFor(c.t, user, time.Hour)); err != nil {
		c.t.Fatalf("login %s within %s: %v", user, d, err)
	}
}

// sendWithin sends text to the receiver within d.
func (c *client) sendWithin(text, to string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, err := c.SendMessage(ctx, sdk.NewTextMessage(text), to)
	return err
}

func (c *client) countText(text string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if m.Text() == text {
			n++
		}
	}
	return n
}

// clients logs in one client per user on the node, and waits for their
// first sync.
func clients(t *testing.T, node *imkittest.Server, users ...string) []*client {
	t.Helper()
	out := make([]*client, len(users))
	for i, u := range users {
		out[i] = newClient(t, node.URL, imkit.PlatformAndroid)
		out[i].login(u)
	}
	for _, c := range out {
		c.until("first sync", func() bool { return c.synced > 0 })
	}
	return out
}

// With Redis frozen (SIGSTOP: its connections stay open and nothing
// answers), a node still logs users in and stores, acknowledges and
// delivers messages between its own clients, promptly. When Redis is
// back, the users who logged in meanwhile are registered again, cross-node
// pushes resume, and a client on another node that missed a push catches
// up (a sync hint), nothing doubled.
func TestRedisFrozen(t *testing.T) {
	r := imkittest.StartRedis(t)
	nodes := imkittest.RunClusterOn(t, 2, imkittest.PostgresDSN(t), r.Addr())
	c0 := clients(t, nodes[0], "alice", "bob")
	alice, bob := c0[0], c0[1]
	carol := clients(t, nodes[1], "carol")[0]

	r.Freeze()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := alice.sendWithin(fmt.Sprint("frozen ", i), "bob", promptly); err != nil {
				errs <- fmt.Errorf("send %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("with Redis frozen, %v", err)
	}
	for i := range 8 {
		bob.until("bob (same node) gets it", func() bool { return bob.hasText(fmt.Sprint("frozen ", i)) })
	}
	dave := newClient(t, nodes[0].URL, imkit.PlatformWeb)
	dave.loginWithin("dave", promptly)
	if err := alice.sendWithin("to carol, frozen", "carol", promptly); err != nil {
		t.Fatalf("with Redis frozen, a send to another node's user: %v", err)
	}
	imkittest.Eventually(t, "node 1 notices", func() bool { return !nodes[1].Cluster.Up() })

	r.Thaw()
	carol.until("carol, on the other node, catches up", func() bool { return carol.hasText("to carol, frozen") })
	imkittest.Eventually(t, "node 1 sees dave, who logged in meanwhile", func() bool {
		return len(nodes[1].Cluster.OnlineUsers(imkittest.SDKAppID, []string{"dave"})["dave"]) == 1
	})
	if err := alice.sendWithin("to carol, thawed", "carol", promptly); err != nil {
		t.Fatal(err)
	}
	carol.until("pushes across nodes resume", func() bool { return carol.hasText("to carol, thawed") })
	if n := carol.countText("to carol, frozen"); n != 1 {
		t.Errorf("carol got the message %d times, want once", n)
	}
}

// kickedWithin waits up to d for c to be told it was kicked.
func (c *client) kickedWithin(what string, d time.Duration) sdk.KickInfo {
	c.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		n := len(c.kicks)
		c.mu.Unlock()
		if n > 0 {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.kicks[0]
		}
		select {
		case <-c.wake:
		case <-deadline.C:
			c.t.Fatalf("%s: not kicked within %s", what, d)
		}
	}
}

// With Redis down, a session kicked on another node (by an admin, by an
// account deletion, by a login under the policy) stops within 5 s: the
// store is the truth, and each node looks there for kicks.
func TestKicksWhileRedisDown(t *testing.T) {
	r := imkittest.StartRedis(t)
	nodes := imkittest.RunClusterOn(t, 2, imkittest.PostgresDSN(t), r.Addr())
	c1 := clients(t, nodes[1], "eve", "frank", "gina")
	eve, frank, gina := c1[0], c1[1], c1[2]
	rest := restapi.NewClient(nodes[0].URL, imkittest.SDKAppID, imkittest.Admin, imkittest.Key)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	r.Stop()
	if err := rest.Kick(ctx, "eve"); err != nil {
		t.Fatal(err)
	}
	if k := eve.kickedWithin("eve, kicked by an admin on node 0", 5*time.Second); k.Reason != imkit.KickAdmin {
		t.Errorf("eve's kick = %+v, want admin", k)
	}
	if _, err := rest.DeleteAccounts(ctx, []string{"frank"}); err != nil {
		t.Fatal(err)
	}
	frank.kickedWithin("frank, deleted on node 0", 5*time.Second)
	pc := newClient(t, nodes[0].URL, imkit.PlatformWindows) // dual-platform: natives conflict
	pc.login("gina")
	if k := gina.kickedWithin("gina's phone, kicked by her login on node 0", 5*time.Second); k.Reason != imkit.KickMultiDevice || k.Platform != imkit.PlatformWindows {
		t.Errorf("gina's kick = %+v, want multi-device by Windows", k)
	}
	for _, c := range c1 {
		if err := c.sendWithin("still here", "someone", promptly); imkit.ErrorCode(err) != imkit.ErrSDKNotLoggedIn {
			t.Errorf("a kicked client's send: %v, want 6014", err)
		}
	}
}

// A Redis that restarts empty loses every registration: each node finds
// out, registers its connections again and tells its clients to sync, so
// that online state, pushes and kicks across nodes work again and a push
// lost meanwhile is caught up, once.
func TestRedisRestartEmpty(t *testing.T) {
	r := imkittest.StartRedis(t)
	nodes := imkittest.RunClusterOn(t, 2, imkittest.PostgresDSN(t), r.Addr())
	alice := clients(t, nodes[0], "alice")[0]
	carol := clients(t, nodes[1], "carol")[0]
	rest := restapi.NewClient(nodes[0].URL, imkittest.SDKAppID, imkittest.Admin, imkittest.Key)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	r.Stop()
	if err := alice.sendWithin("while Redis restarts", "carol", promptly); err != nil {
		t.Fatalf("with Redis down, a send: %v", err)
	}
	r.Start()
	carol.until("carol catches up with the push lost meanwhile", func() bool { return carol.hasText("while Redis restarts") })
	for i, n := range nodes {
		imkittest.Eventually(t, fmt.Sprint("node ", i, " sees both online again"), func() bool {
			on := n.Cluster.OnlineUsers(imkittest.SDKAppID, []string{"alice", "carol"})
			return len(on["alice"]) == 1 && len(on["carol"]) == 1
		})
	}
	st, err := rest.QueryOnlineStatus(ctx, []string{"carol"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.QueryResult) != 1 || st.QueryResult[0].State != "Online" {
		t.Errorf("query_online_status on node 0 = %+v, want carol Online", st.QueryResult)
	}
	if err := alice.sendWithin("after the restart", "carol", promptly); err != nil {
		t.Fatal(err)
	}
	carol.until("pushes across nodes work again", func() bool { return carol.hasText("after the restart") })
	if n := carol.countText("while Redis restarts"); n != 1 {
		t.Errorf("carol got the message sent during the restart %d times, want once", n)
	}
}

// A session kicked while Redis restarts empty is found in the store too.
func TestKickDuringRedisRestart(t *testing.T) {
	r := imkittest.StartRedis(t)
	nodes := imkittest.RunClusterOn(t, 2, imkittest.PostgresDSN(t), r.Addr())
	carol := clients(t, nodes[1], "carol")[0]
	rest := restapi.NewClient(nodes[0].URL, imkittest.SDKAppID, imkittest.Admin, imkittest.Key)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r.Restart()
	if err := rest.Kick(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	carol.kickedWithin("carol, kicked on node 0 right after the restart", 5*time.Second)
}

// A node that shuts down (SIGTERM) closes its connections with 4000; an
// SDK given several servers moves to the next at once (its backoff here
// is a minute) and resumes its session there, still LOGINED, and
// messages acknowledged before and sent after reach it once.
func TestDrainMovesClients(t *testing.T) {
	nodes := imkittest.RunCluster(t, 2)
	bob := clients(t, nodes[1], "bob")[0]
	alice := newClientWith(t, sdk.Config{
		ServerURL: nodes[0].URL, ServerURLs: []string{nodes[1].URL}, Platform: imkit.PlatformAndroid,
		ReconnectMin: time.Minute, ReconnectMax: time.Minute,
	})
	alice.login("alice")
	alice.until("first sync", func() bool { return alice.synced > 0 })
	if err := bob.sendWithin("before", "alice", promptly); err != nil {
		t.Fatal(err)
	}
	alice.until("alice gets it on node 0", func() bool { return alice.hasText("before") })

	nodes[0].Stop()
	imkittest.Eventually(t, "alice resumes on node 1", func() bool { return nodes[1].Hub.Count() == 2 && alice.Connected() })
	if alice.LoginStatus() != imkit.LoginStatusLogined {
		t.Fatalf("alice's status = %v, want LOGINED throughout", alice.LoginStatus())
	}
	if err := bob.sendWithin("after", "alice", promptly); err != nil {
		t.Fatal(err)
	}
	alice.until("alice gets it on node 1", func() bool { return alice.hasText("after") })
	if n := alice.countText("before"); n != 1 {
		t.Errorf("alice has the first message %d times, want once", n)
	}
}
