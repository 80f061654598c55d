// Package redis lets several imkit nodes serve one app: it is all of
// imkit's use of Redis. Each node registers its logged-in connections in
// Redis (which node holds which session of which user, on which platform)
// and subscribes to a channel of its own; pushes (messages, read receipts)
// and kicks for a user go only to the nodes that hold that user's
// connections, never to every node.
//
// Sessions themselves, and the login policy, live in the shared PostgreSQL
// store: its login transaction locks the user, so the policy is applied
// atomically across nodes, and a kicked session stays dead whatever happens
// to Redis (which this deployment runs without persistence).
package redis

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/gateway"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/protocol"
)

// Options configure a Cluster.
type Options struct {
	// Addr is the Redis server's host:port.
	Addr     string
	Password string
	DB       int
	// Prefix starts every key and channel (default "imkit:").
	Prefix string
	// Hub is this node's hub; pushes and kicks for its connections go there.
	Hub *gateway.Hub
	// NodeTTL is how long a node counts as alive after its last heartbeat
	// (default 30s; it beats every third of that).
	NodeTTL time.Duration
	// OnAppChanged, when set, is called when any node reports that an
	// app's settings changed (AppChanged), so that this node drops its
	// cached copy.
	OnAppChanged func(app uint64)
	// Logger receives errors; nil discards.
	Logger *slog.Logger
}

// Cluster is this node's view of the others.
type Cluster struct {
	rdb    *goredis.Client
	node   string
	prefix string
	hub    *gateway.Hub
	ttl    time.Duration
	log    *slog.Logger
	onApp  func(app uint64)

	decodeErrors  atomic.Int64
	publishErrors atomic.Int64

	sub    *goredis.PubSub
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New connects to Redis, announces this node and starts receiving what
// other nodes send it.
func New(ctx context.Context, o Options) (*Cluster, error) {
	if o.Hub == nil {
		return nil, errors.New("redis: no hub")
	}
	if o.Prefix == "" {
		o.Prefix = "imkit:"
	}
	if o.NodeTTL <= 0 {
		o.NodeTTL = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var b [8]byte
	rand.Read(b[:])
	c := &Cluster{
		rdb:    goredis.NewClient(&goredis.Options{Addr: o.Addr, Password: o.Password, DB: o.DB}),
		node:   hex.EncodeToString(b[:]),
		prefix: o.Prefix,
		hub:    o.Hub,
		ttl:    o.NodeTTL,
		log:    o.Logger,
		onApp:  o.OnAppChanged,
	}
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		c.rdb.Close()
		return nil, fmt.Errorf("redis %s: %w", o.Addr, err)
	}
	if err := c.beat(ctx); err != nil {
		c.rdb.Close()
		return nil, err
	}
	c.sub = c.rdb.Subscribe(ctx, c.channel(c.node), c.appsChannel())
	for range 2 { // both subscriptions are confirmed
		if _, err := c.sub.Receive(ctx); err != nil {
			c.sub.Close()
			c.rdb.Close()
			return nil, fmt.Errorf("redis subscribe: %w", err)
		}
	}
	bctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(2)
	go c.receive()
	go c.heartbeat(bctx)
	return c, nil
}

// Node returns this node's ID.
func (c *Cluster) Node() string { return c.node }

// Close leaves the cluster: this node's registrations expire with it.
func (c *Cluster) Close() error {
	c.cancel()
	c.sub.Close()
	c.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c.rdb.Del(ctx, c.nodeKey(c.node))
	return c.rdb.Close()
}

func (c *Cluster) nodeKey(node string) string { return c.prefix + "node:" + node }
func (c *Cluster) channel(node string) string { return c.prefix + "node:" + node }

// appsChannel reaches every node: app settings changed (rare, by an admin).
func (c *Cluster) appsChannel() string { return c.prefix + "apps" }
func (c *Cluster) connsKey(app uint64, user string) string {
	return c.prefix + "conns:" + strconv.FormatUint(app, 10) + ":" + user
}

func (c *Cluster) beat(ctx context.Context) error {
	if err := c.rdb.Set(ctx, c.nodeKey(c.node), time.Now().Unix(), c.ttl).Err(); err != nil {
		return fmt.Errorf("redis heartbeat: %w", err)
	}
	return nil
}

func (c *Cluster) heartbeat(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(c.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			bctx, cancel := context.WithTimeout(ctx, c.ttl/3)
			if err := c.beat(bctx); err != nil {
				c.log.Error("redis heartbeat", "err", err)
			}
			cancel()
		}
	}
}

// Online registers a logged-in connection of this node. When the session
// was registered on another node (a resume after a network change), that
// node is told to close its old connection. It implements gateway.Presence.
func (c *Cluster) Online(ctx context.Context, s store.Session, conn uint64) error {
	k := c.connsKey(s.App, s.UserID)
	old, err := register.Run(ctx, c.rdb, []string{k}, s.ID, c.value(s.Platform, conn), int(connsTTL/time.Second)).Text()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("redis register %s: %w", s.UserID, err)
	}
	if node, _, _ := strings.Cut(old, " "); node != "" && node != c.node {
		msg := fmt.Appendf([]byte{kindReplace}, "%d %s %s", s.App, s.UserID, s.ID)
		c.publish(ctx, node, msg)
	}
	return nil
}

// connsTTL bounds how long a user's registrations outlive its last login
// on any node (fields of dead nodes are skipped, and overwritten on resume).
const connsTTL = 30 * 24 * time.Hour

// value is what a registration holds: node, platform and connection.
func (c *Cluster) value(p imkit.Platform, conn uint64) string {
	return c.node + " " + strconv.Itoa(int(p)) + " " + strconv.FormatUint(conn, 10)
}

// register sets a field and returns what it held.
var register = goredis.NewScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return old`)

// Offline unregisters a connection of this node that ended, unless the
// session is registered with another connection meanwhile (it resumed).
func (c *Cluster) Offline(ctx context.Context, s store.Session, conn uint64) {
	k := c.connsKey(s.App, s.UserID)
	err := unregister.Run(ctx, c.rdb, []string{k}, s.ID, c.value(s.Platform, conn)).Err()
	if err != nil && !errors.Is(err, goredis.Nil) {
		c.log.Error("redis unregister", "user", s.UserID, "err", err)
	}
}

// unregister deletes a field while it holds the given value.
var unregister = goredis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
	return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`)

// conn is a registered connection.
type conn struct {
	session  string
	node     string
	platform imkit.Platform
}

func (c *Cluster) conns(ctx context.Context, app uint64, user string) ([]conn, error) {
	m, err := c.rdb.HGetAll(ctx, c.connsKey(app, user)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]conn, 0, len(m))
	for id, v := range m {
		f := strings.Fields(v)
		if len(f) < 2 {
			continue
		}
		node := f[0]
		n, _ := strconv.Atoi(f[1])
		out = append(out, conn{session: id, node: node, platform: imkit.Platform(n)})
	}
	return out, nil
}

// Message kinds between nodes.
const (
	kindDeliver = 'd' // "<app> <user> <except>\n" and a push frame
	kindKick    = 'k' // a kicked store.Session, JSON
	kindReplace = 'r' // "<app> <user> <session>": close that connection
	kindApp     = 'a' // "<app>": its settings changed (on appsChannel)
)

// publish sends msg to a node; a failure is logged and counted.
func (c *Cluster) publish(ctx context.Context, node string, msg []byte) {
	if err := c.rdb.Publish(ctx, c.channel(node), msg).Err(); err != nil {
		c.publishErrors.Add(1)
		c.log.Error("redis publish", "node", node, "kind", string(msg[:1]), "err", err)
	}
}

// AppChanged tells every node (this one included) that an app's settings
// changed, so that their next logins apply them at once.
func (c *Cluster) AppChanged(ctx context.Context, app uint64) {
	msg := strconv.AppendUint([]byte{kindApp}, app, 10)
	if err := c.rdb.Publish(ctx, c.appsChannel(), msg).Err(); err != nil {
		c.publishErrors.Add(1)
		c.log.Error("redis publish app change; other nodes apply it when their cache expires", "app", app, "err", err)
	}
}

// DecodeErrors returns how many messages from other nodes could not be
// decoded (each is logged).
func (c *Cluster) DecodeErrors() int64 { return c.decodeErrors.Load() }

// PublishErrors returns how many messages to other nodes could not be
// published (each is logged).
func (c *Cluster) PublishErrors() int64 { return c.publishErrors.Load() }

// Deliver pushes an encoded frame to the user's connections on every node
// that holds one. It implements message.Router.
func (c *Cluster) Deliver(ctx context.Context, app uint64, user string, frame []byte, except string) {
	conns, err := c.conns(ctx, app, user)
	if err != nil {
		c.log.Error("redis lookup", "user", user, "err", err)
		c.hub.Deliver(app, user, frame, except) // at least this node's
		return
	}
	local, sent := false, map[string]bool{}
	for _, cn := range conns {
		if cn.node == c.node {
			local = true
			continue
		}
		if sent[cn.node] {
			continue
		}
		sent[cn.node] = true
		var b bytes.Buffer
		b.WriteByte(kindDeliver)
		fmt.Fprintf(&b, "%d %s %s\n", app, user, except)
		b.Write(frame)
		c.publish(ctx, cn.node, b.Bytes())
	}
	if local || len(conns) == 0 {
		c.hub.Deliver(app, user, frame, except)
	}
}

// Kicked tells the kicked sessions' connections, on whichever node holds
// them. It implements session.Notifier.
func (c *Cluster) Kicked(ctx context.Context, sessions []store.Session) {
	var local []store.Session
	for _, s := range sessions {
		node, err := c.rdb.HGet(ctx, c.connsKey(s.App, s.UserID), s.ID).Result()
		if errors.Is(err, goredis.Nil) {
			continue // not connected anywhere: it learns at its next resume
		}
		if err != nil {
			c.log.Error("redis lookup", "user", s.UserID, "err", err)
			local = append(local, s)
			continue
		}
		node, _, _ = strings.Cut(node, " ")
		if node == c.node {
			local = append(local, s)
			continue
		}
		body, err := json.Marshal(s)
		if err != nil {
			c.log.Error("redis: encode kick; telling this node only", "user", s.UserID, "err", err)
			local = append(local, s)
			continue
		}
		msg := append([]byte{kindKick}, body...)
		c.publish(ctx, node, msg)
	}
	if len(local) > 0 {
		c.hub.Kicked(ctx, local)
	}
}

// Platforms returns, for each user with a connection on a live node, the
// platforms of its connections.
func (c *Cluster) Platforms(ctx context.Context, app uint64, users []string) (map[string][]imkit.Platform, error) {
	alive := map[string]bool{c.node: true}
	out := make(map[string][]imkit.Platform)
	for _, u := range users {
		conns, err := c.conns(ctx, app, u)
		if err != nil {
			return nil, fmt.Errorf("redis lookup %s: %w", u, err)
		}
		for _, cn := range conns {
			live, known := alive[cn.node]
			if !known {
				n, err := c.rdb.Exists(ctx, c.nodeKey(cn.node)).Result()
				if err != nil {
					return nil, fmt.Errorf("redis node %s: %w", cn.node, err)
				}
				live = n > 0
				alive[cn.node] = live
			}
			if live {
				out[u] = append(out[u], cn.platform)
			}
		}
	}
	return out, nil
}

// OnlineUsers returns the platforms of the users' connections on every live
// node (admin.Presence). When Redis fails it answers for this node only.
func (c *Cluster) OnlineUsers(app uint64, users []string) map[string][]imkit.Platform {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.Platforms(ctx, app, users)
	if err != nil {
		c.log.Error("redis online state; answering for this node", "err", err)
		return c.hub.Online(app, users)
	}
	return m
}

// loadKey holds a node's peaks per app (a hash app -> peak); loadsKey is
// the set of the nodes that wrote one.
func (c *Cluster) loadKey(node string) string { return c.prefix + "load:" + node }
func (c *Cluster) loadsKey() string           { return c.prefix + "loads" }

// SumPeaks publishes this node's peaks of online instances per app over
// the last stats interval (kept for ttl, about two intervals, so that a
// node that crashes takes its figures with it soon; one that stops calls
// WithdrawPeaks first) and returns, per app, the sum
// of the peaks the live nodes published last: the cluster's peak, as
// closely as nodes sampling at their own moments can tell it (it can exceed
// the true peak when nodes peaked at different moments of one interval).
func (c *Cluster) SumPeaks(ctx context.Context, local map[uint64]int, ttl time.Duration) (map[uint64]int, error) {
	_, err := c.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		key := c.loadKey(c.node)
		p.Del(ctx, key)
		if len(local) > 0 {
			fields := make([]any, 0, 2*len(local))
			for app, n := range local {
				fields = append(fields, strconv.FormatUint(app, 10), n)
			}
			p.HSet(ctx, key, fields...)
			p.PExpire(ctx, key, ttl)
		}
		p.SAdd(ctx, c.loadsKey(), c.node)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis publish peaks: %w", err)
	}
	nodes, err := c.rdb.SMembers(ctx, c.loadsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redis peaks: %w", err)
	}
	cmds := make([]*goredis.MapStringStringCmd, len(nodes))
	_, err = c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, n := range nodes {
			cmds[i] = p.HGetAll(ctx, c.loadKey(n))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis peaks: %w", err)
	}
	sum := make(map[uint64]int)
	for i, cmd := range cmds {
		m := cmd.Val()
		if len(m) == 0 && nodes[i] != c.node {
			c.rdb.SRem(ctx, c.loadsKey(), nodes[i]) // gone, or nobody online there
			continue
		}
		for app, v := range m {
			a, err1 := strconv.ParseUint(app, 10, 64)
			n, err2 := strconv.Atoi(v)
			if err1 == nil && err2 == nil && n > 0 {
				sum[a] += n
			}
		}
	}
	return sum, nil
}

// WithdrawPeaks takes this node's figures out of the cluster's peak, for a
// node about to stop: its clients are about to reconnect to the other
// nodes, where they count again.
func (c *Cluster) WithdrawPeaks(ctx context.Context) error {
	_, err := c.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, c.loadKey(c.node))
		p.SRem(ctx, c.loadsKey(), c.node)
		return nil
	})
	return err
}

// receive handles what other nodes send this one. A message it cannot
// decode is logged and counted, never dropped silently.
func (c *Cluster) receive() {
	defer c.wg.Done()
	for m := range c.sub.Channel() {
		if err := c.handle([]byte(m.Payload)); err != nil {
			c.decodeErrors.Add(1)
			kind := ""
			if len(m.Payload) > 0 {
				kind = m.Payload[:1]
			}
			c.log.Error("redis: a message from another node could not be decoded",
				"channel", m.Channel, "kind", kind, "len", len(m.Payload), "err", err)
		}
	}
}

// handle carries out one message from another node.
func (c *Cluster) handle(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty message")
	}
	switch b[0] {
	case kindDeliver:
		head, frame, ok := bytes.Cut(b[1:], []byte{'\n'})
		if !ok {
			return errors.New("push: no end of header")
		}
		f := strings.SplitN(string(head), " ", 3)
		if len(f) != 3 {
			return fmt.Errorf("push: header has %d fields, want 3", len(f))
		}
		app, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return fmt.Errorf("push: app: %w", err)
		}
		c.hub.Deliver(app, f[1], frame, f[2])
	case kindKick:
		var s store.Session
		if err := json.Unmarshal(b[1:], &s); err != nil {
			return fmt.Errorf("kick: %w", err)
		}
		c.hub.Kicked(context.Background(), []store.Session{s})
	case kindReplace:
		f := strings.Fields(string(b[1:]))
		if len(f) != 3 {
			return fmt.Errorf("replace: %d fields, want 3", len(f))
		}
		app, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return fmt.Errorf("replace: app: %w", err)
		}
		c.hub.CloseSession(app, f[1], f[2], protocol.CloseReplaced)
	case kindApp:
		app, err := strconv.ParseUint(string(b[1:]), 10, 64)
		if err != nil {
			return fmt.Errorf("app change: %w", err)
		}
		if c.onApp != nil {
			c.onApp(app)
		}
	default:
		return fmt.Errorf("unknown kind %q", b[0])
	}
	return nil
}
