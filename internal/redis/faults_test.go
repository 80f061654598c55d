package redis_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
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
	nodes := imkittest.RunCluster(t, 2, r.WithRedis())
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
