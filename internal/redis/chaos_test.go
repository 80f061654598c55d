package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/protocol"
	"github.com/imkit/imkit/restapi"
	"github.com/imkit/imkit/sdk"
)

// The faults of several nodes one after another, under a steady flow of
// messages between users on three nodes: a node gone (its links silent,
// new connections refused: its clients find out by heartbeats and move to
// the next node), Redis frozen
// while an admin kicks a user, Redis restarted empty, and PostgreSQL
// refusing connections and dropping the open ones (as in its restart).
// After each fault the online state converges within 10 s; the kicked
// session is told within 5 s; in the end every message acknowledged to
// its sender is stored once and reached its receiver once.
//
// What this cannot do in one process: kill a node for real (the node
// keeps running behind its proxy, unreachable to clients) or restart the
// shared PostgreSQL (a proxy in front of it stands in).
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos test takes a while")
	}
	r := imkittest.StartRedis(t)
	dsn, db := imkittest.PostgresBehindProxy(t)
	nodes := imkittest.RunClusterOn(t, 3, dsn, r.Addr(), imkittest.NoRequestLimit())
	rest := restapi.NewClient(nodes[1].URL, imkittest.SDKAppID, imkittest.Admin, imkittest.Key)
	front := make([]*imkittest.Proxy, len(nodes))
	for i, n := range nodes {
		front[i] = n.Proxy()
	}

	const n = 6
	user := func(i int) string { return fmt.Sprint("chaos", i%n) }
	cs := make([]*client, n)
	for i := range cs {
		// Each starts on node i%3 and knows the others.
		var urls []string
		for k := range front {
			urls = append(urls, front[(i+k)%len(front)].URL())
		}
		cs[i] = newClientWith(t, sdk.Config{
			ServerURL: urls[0], ServerURLs: urls[1:], Platform: imkit.PlatformAndroid,
			ReconnectMin: 20 * time.Millisecond, ReconnectMax: 300 * time.Millisecond,
			Heartbeat: 200 * time.Millisecond,
		})
		cs[i].login(user(i))
	}
	for _, c := range cs {
		c.until("first sync", func() bool { return c.synced > 0 })
	}

	// Each user sends to the next, ten messages a second, until stopped
	// (or kicked); the acknowledged ones are noted.
	const kicked = n - 1
	var (
		mu    sync.Mutex
		acked = make(map[string][]string) // by receiver
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(100 * time.Millisecond) // a pace, not a wait
			defer tick.Stop()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				text := fmt.Sprintf("%s#%d", user(i), k)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.SendMessage(ctx, sdk.NewTextMessage(text), user(i+1))
				cancel()
				if err == nil {
					mu.Lock()
					acked[user(i+1)] = append(acked[user(i+1)], text)
					mu.Unlock()
				} else if imkit.ErrorCode(err) == imkit.ErrSDKNotLoggedIn {
					return // kicked
				}
			}
		}()
	}
	stopSending := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopSending)

	live := func(i int) bool { return i != kicked || !cs[i].isKicked() }
	// views says what each node holds and sees, for a failure message.
	views := func(all []string) string {
		var b strings.Builder
		for k, nd := range nodes {
			fmt.Fprintf(&b, "[node %d: up %v, holds %v, sees %v] ", k, nd.Cluster.Up(),
				nd.Hub.Online(imkittest.SDKAppID, all), nd.Cluster.OnlineUsers(imkittest.SDKAppID, all))
		}
		return b.String()
	}
	var converged func(state *string) bool
	converge := func(after string) {
		t.Helper()
		var state string // what is not there yet, for the failure message
		deadline := time.Now().Add(10 * time.Second)
		for !converged(&state) {
			if time.Now().After(deadline) {
				t.Fatalf("after %s, the online state converges: not within 10s: %s", after, state)
			}
			time.Sleep(5 * time.Millisecond) // polling, as imkittest.Eventually
		}
	}
	converged = func(state *string) bool {
		for i, c := range cs {
			if live(i) && (!c.Connected() || c.LoginStatus() != imkit.LoginStatusLogined) {
				*state = fmt.Sprintf("%s: connected %v, status %v", user(i), c.Connected(), c.LoginStatus())
				return false
			}
		}
		all := make([]string, n)
		for i := range all {
			all[i] = user(i)
		}
		for k, nd := range nodes {
			on := nd.Cluster.OnlineUsers(imkittest.SDKAppID, all)
			for i := range cs {
				want := 1
				if !live(i) {
					want = 0
				}
				if len(on[user(i)]) != want {
					*state = fmt.Sprintf("node %d (in touch with Redis: %v) sees %s online %d times, want %d; the nodes: %s",
						k, nd.Cluster.Up(), user(i), len(on[user(i)]), want, views(all))
					return false
				}
			}
		}
		return true
	}
	// progress waits for every live sender to have one more message
	// acknowledged: the flow goes on after a fault.
	progress := func(after string) {
		t.Helper()
		mu.Lock()
		before := make(map[string]int, len(acked))
		for u, texts := range acked {
			before[u] = len(texts)
		}
		mu.Unlock()
		imkittest.Eventually(t, "after "+after+", messages flow again", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for i := range cs {
				if live(i) && len(acked[user(i+1)]) <= before[user(i+1)] {
					return false
				}
			}
			return true
		})
	}

	// 1. A node dies: its links go silent, new connections are refused.
	front[0].SetMode(imkittest.Refuse)
	front[0].Blackhole()
	converge("node 0 died")
	progress("node 0 died")

	// 2. Redis freezes; an admin kicks a user meanwhile.
	r.Freeze()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := rest.Kick(ctx, user(kicked)); err != nil {
		t.Fatal(err)
	}
	if k := cs[kicked].kickedWithin("the user kicked while Redis is frozen", 5*time.Second); k.Reason != imkit.KickAdmin {
		t.Errorf("kick = %+v, want admin", k)
	}
	r.Thaw()
	converge("Redis was frozen")
	progress("Redis was frozen")

	// 3. Redis restarts empty.
	r.Restart()
	converge("Redis restarted empty")
	progress("Redis restarted empty")

	// 4. PostgreSQL goes away and comes back.
	db.SetMode(imkittest.Refuse)
	db.Reset()
	imkittest.Eventually(t, "the nodes lose PostgreSQL", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := nodes[1].Store.Apps(ctx)
		return err != nil
	})
	db.Online()
	converge("PostgreSQL came back")
	progress("PostgreSQL came back")

	stopSending()

	// Every acknowledged message is stored once, and reached its
	// receiver once; nothing is stored that was not sent.
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for i := range cs {
		u := user(i)
		want := acked[u]
		total += len(want)
		es, _, err := nodes[1].Store.Sync(ctx, imkittest.SDKAppID, u, 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		stored := make(map[string]int)
		for _, e := range es {
			if e.From != user(i+n-1) {
				continue
			}
			var elems []protocol.Elem
			if err := json.Unmarshal(e.Body, &elems); err != nil || len(elems) != 1 {
				t.Fatalf("stored body %s: %v", e.Body, err)
			}
			stored[elems[0].Text]++
		}
		for _, text := range want {
			if stored[text] != 1 {
				t.Errorf("%s: acknowledged %q is stored %d times, want once", u, text, stored[text])
			}
		}
		if !live(i) {
			continue
		}
		c := cs[i]
		var missing []string
		deadline := time.Now().Add(10 * time.Second)
		for {
			missing = missing[:0]
			c.mu.Lock()
			for _, text := range want {
				if !slices.ContainsFunc(c.msgs, func(m *sdk.Message) bool { return m.Text() == text }) {
					missing = append(missing, text)
				}
			}
			c.mu.Unlock()
			if len(missing) == 0 || time.Now().After(deadline) {
				break
			}
			select {
			case <-c.wake:
			case <-time.After(100 * time.Millisecond):
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s has not received %d of the %d messages acknowledged to it: %v", u, len(missing), len(want), missing)
			continue
		}
		for _, text := range want {
			if got := c.countText(text); got != 1 {
				t.Errorf("%s got %q %d times, want once", u, text, got)
			}
		}
	}
	t.Logf("%d messages acknowledged across the faults", total)
}

// isKicked reports whether the client was told it was kicked.
func (c *client) isKicked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.kicks) > 0
}
