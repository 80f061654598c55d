package redis_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/sdk"
)

// client is an SDK instance whose callbacks are recorded.
type client struct {
	*sdk.SDK
	t      *testing.T
	mu     sync.Mutex
	kicks  []sdk.KickInfo
	msgs   []*sdk.Message
	synced int
	convs  map[string]sdk.Conversation // the latest of each, by peer
	wake   chan struct{}
}

func newClient(t *testing.T, url string, p imkit.Platform) *client {
	t.Helper()
	return newClientBeat(t, url, p, 0)
}

// newClientBeat is newClient with the SDK's heartbeat set (0: the server's).
func newClientBeat(t *testing.T, url string, p imkit.Platform, beat time.Duration) *client {
	t.Helper()
	return newClientWith(t, sdk.Config{
		ServerURL: url, Platform: p, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 300 * time.Millisecond,
		Heartbeat: beat,
	})
}

// newClientWith is newClient with the SDK configured by cfg (its Listener
// is the client's).
func newClientWith(t *testing.T, cfg sdk.Config) *client {
	t.Helper()
	c := &client{t: t, wake: make(chan struct{}, 1), convs: make(map[string]sdk.Conversation)}
	note := func(f func()) {
		c.mu.Lock()
		f()
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	cfg.Listener = sdk.Listener{
		OnKickedOffline:    func(k sdk.KickInfo) { note(func() { c.kicks = append(c.kicks, k) }) },
		OnRecvNewMessage:   func(m *sdk.Message) { note(func() { c.msgs = append(c.msgs, m) }) },
		OnSyncServerFinish: func() { note(func() { c.synced++ }) },
		OnConversationChanged: func(cs []*sdk.Conversation) {
			note(func() {
				for _, cv := range cs {
					c.convs[cv.Peer] = *cv
				}
			})
		},
	}
	s, err := sdk.New(imkittest.SDKAppID, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SDK = s
	t.Cleanup(func() { s.UnInit() })
	return c
}

func (c *client) login(user string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Login(ctx, user, imkittest.SignFor(c.t, user, time.Hour)); err != nil {
		c.t.Fatalf("login %s: %v", user, err)
	}
}

// until waits up to 10 s for cond, checked after each callback.
func (c *client) until(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-c.wake:
		case <-deadline.C:
			c.t.Fatalf("%s: not within 10s", what)
		}
	}
}

func (c *client) hasText(text string) bool {
	for _, m := range c.msgs {
		if m.Text() == text {
			return true
		}
	}
	return false
}

// A login on one node kicks the user's instance on another node, with the
// reason, at once.
func TestKickAcrossNodes(t *testing.T) {
	nodes := imkittest.RunCluster(t, 2)
	phone := newClient(t, nodes[0].URL, imkit.PlatformAndroid)
	phone.login("alice")
	pc := newClient(t, nodes[1].URL, imkit.PlatformWindows) // dual-platform: natives conflict
	pc.login("alice")
	phone.until("the phone is kicked", func() bool { return len(phone.kicks) == 1 })
	if k := phone.kicks[0]; k.Reason != imkit.KickMultiDevice || k.Platform != imkit.PlatformWindows {
		t.Fatalf("kick = %+v, want multi-device by Windows", k)
	}
	if phone.LoginStatus() != imkit.LoginStatusLogout || pc.LoginStatus() != imkit.LoginStatusLogined {
		t.Fatalf("statuses: phone %v, pc %v", phone.LoginStatus(), pc.LoginStatus())
	}
}

// Messages reach the receiver's and the sender's other instances on
// whichever node they are, and online state counts every node.
func TestMessagesAcrossNodes(t *testing.T) {
	nodes := imkittest.RunCluster(t, 2)
	alicePhone := newClient(t, nodes[0].URL, imkit.PlatformAndroid)
	aliceWeb := newClient(t, nodes[1].URL, imkit.PlatformWeb)
	bob := newClient(t, nodes[1].URL, imkit.PlatformIPhone)
	alicePhone.login("alice")
	aliceWeb.login("alice")
	bob.login("bob")
	for _, c := range []*client{alicePhone, aliceWeb, bob} {
		c.until("first sync", func() bool { return c.synced > 0 })
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := bob.SendMessage(ctx, sdk.NewTextMessage("to alice"), "alice"); err != nil {
		t.Fatal(err)
	}
	alicePhone.until("alice's phone (other node) gets it", func() bool { return alicePhone.hasText("to alice") })
	aliceWeb.until("alice's web (same node) gets it", func() bool { return aliceWeb.hasText("to alice") })
	if _, err := alicePhone.SendMessage(ctx, sdk.NewTextMessage("to bob"), "bob"); err != nil {
		t.Fatal(err)
	}
	bob.until("bob (other node) gets it", func() bool { return bob.hasText("to bob") })
	aliceWeb.until("alice's other instance (other node) gets her copy", func() bool { return aliceWeb.hasText("to bob") })

	for i, n := range nodes {
		online := n.Cluster.OnlineUsers(imkittest.SDKAppID, []string{"alice", "bob", "carol"})
		if len(online["alice"]) != 2 || len(online["bob"]) != 1 || len(online["carol"]) != 0 {
			t.Errorf("node %d sees online %v, want alice on 2 platforms, bob on 1", i, online)
		}
	}
}

// Logins of one user racing on several nodes leave exactly what the policy
// allows, and every other instance is told.
func TestConcurrentLoginsAcrossNodes(t *testing.T) {
	nodes := imkittest.RunCluster(t, 2)
	for _, n := range nodes {
		n.SetPolicy(imkit.PolicySingle, nil)
	}
	const n = 12
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = newClient(t, nodes[i%2].URL, imkit.Platforms[i%len(imkit.Platforms)])
	}
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := c.Login(ctx, "carol", imkittest.SignFor(t, "carol", time.Hour)); err != nil {
				t.Errorf("login: %v", err)
			}
		}()
	}
	wg.Wait()
	// Every login succeeded; the kicks reach the losers asynchronously.
	online := func() int {
		n := 0
		for _, c := range clients {
			if c.LoginStatus() == imkit.LoginStatusLogined {
				n++
			}
		}
		return n
	}
	imkittest.Eventually(t, "one instance left online", func() bool { return online() == 1 })
	for i, c := range clients {
		c.until(fmt.Sprint("instance ", i, " is online or was told it was kicked"), func() bool {
			return c.LoginStatus() == imkit.LoginStatusLogined || len(c.kicks) > 0
		})
	}
	if got := nodes[0].ActiveInstances("carol"); len(got) != 1 {
		t.Fatalf("the store has %d active sessions, want 1: %v", len(got), got)
	}
}

// An instance whose link drops resumes on another node (a load balancer
// moved it); the node that held it closes its stale connection, and pushes
// reach it on the new node only.
func TestResumeOnAnotherNode(t *testing.T) {
	nodes := imkittest.RunCluster(t, 2)
	proxy := imkittest.NewProxy(t, nodes[0].Addr())
	// The client finds the dead link after a few of its pings; the server
	// would wait minutes (its heartbeat is the default 30 s).
	alice := newClientBeat(t, proxy.URL(), imkit.PlatformAndroid, 100*time.Millisecond)
	alice.login("alice")
	alice.until("first sync", func() bool { return alice.synced > 0 })
	if got := nodes[0].Hub.Count(); got != 1 {
		t.Fatalf("node 0 holds %d connections, want 1", got)
	}
	proxy.SetTarget(nodes[1].Addr())
	proxy.Blackhole() // the old link goes silent: node 0 does not see it end
	alice.until("resumed on node 1", func() bool { return nodes[1].Hub.Count() == 1 })
	imkittest.Eventually(t, "node 0 closes the stale connection", func() bool { return nodes[0].Hub.Count() == 0 })

	bob := newClient(t, nodes[0].URL, imkit.PlatformWeb)
	bob.login("bob")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := bob.SendMessage(ctx, sdk.NewTextMessage("found you"), "alice"); err != nil {
		t.Fatal(err)
	}
	alice.until("alice gets it on node 1", func() bool { return alice.hasText("found you") })
	if alice.LoginStatus() != imkit.LoginStatusLogined {
		t.Fatalf("alice's status = %v, want LOGINED throughout", alice.LoginStatus())
	}
}

// The day's peak of online instances counts every node: 2 instances on one
// and 3 on the other make 5, not 3.
func TestPeakOnlineAcrossNodes(t *testing.T) {
	nodes := imkittest.RunCluster(t, 2, imkittest.WithConfig(func(c *server.Config) {
		c.StatsInterval = 20 * time.Millisecond
	}))
	for i := range 5 {
		c := newClient(t, nodes[i%2].URL, imkit.PlatformAndroid)
		c.login(fmt.Sprint("peak", i))
	}
	day := nodes[0].Sessions.Day(time.Now())
	peak := func() int {
		ds, err := nodes[0].Store.DayStats(context.Background(), imkittest.SDKAppID, day, day)
		if err != nil || len(ds) == 0 {
			return 0
		}
		return ds[0].PeakOnline
	}
	imkittest.Eventually(t, "the day's peak reaches 5", func() bool { return peak() >= 5 })
	if n := peak(); n != 5 {
		t.Fatalf("peak online = %d, want 5", n)
	}
}

// A node that stops takes its figures out of the cluster's peak before its
// clients move to the other nodes: they are not counted twice.
func TestPeakOnlineNodeLeaving(t *testing.T) {
	// No stats ticks: the test publishes, as the nodes' ticks would.
	nodes := imkittest.RunCluster(t, 2, imkittest.WithConfig(func(c *server.Config) {
		c.StatsInterval = time.Hour
	}))
	ctx := context.Background()
	three := map[uint64]int{imkittest.SDKAppID: 3}
	if _, err := nodes[1].Cluster.SumPeaks(ctx, three, time.Minute); err != nil {
		t.Fatal(err)
	}
	sum, err := nodes[0].Cluster.SumPeaks(ctx, nil, time.Minute)
	if err != nil || sum[imkittest.SDKAppID] != 3 {
		t.Fatalf("node 0 sees a peak of %d (%v), want node 1's 3", sum[imkittest.SDKAppID], err)
	}
	nodes[1].Stop()
	// node 1's three clients are now on node 0.
	sum, err = nodes[0].Cluster.SumPeaks(ctx, three, time.Minute)
	if err != nil || sum[imkittest.SDKAppID] != 3 {
		t.Fatalf("after node 1 stopped, the peak is %d (%v), want 3", sum[imkittest.SDKAppID], err)
	}
}
