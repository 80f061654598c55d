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
	// (default 10s; it beats every CheckInterval): a dead node's connections
	// stop counting as online after it.
	NodeTTL time.Duration
	// Timeout bounds every Redis call (default 1s; Redis answers in well
	// under a millisecond). A call that fails or runs out of time makes
	// this node work alone until Redis answers again: see Cluster.
	Timeout time.Duration
	// CheckInterval is how often the node checks that Redis answers and
	// still holds its registrations (default 1s); the check is also its
	// heartbeat.
	CheckInterval time.Duration
	// OnAppChanged, when set, is called when any node reports that an
	// app's settings changed (AppChanged), so that this node drops its
	// cached copy.
	OnAppChanged func(app uint64)
	// Logger receives errors; nil discards.
	Logger *slog.Logger
}

// Cluster is this node's view of the others.
//
// Redis is a router here, never a wait: every call has a deadline
// (Options.Timeout), pushes to other nodes are queued and sent by a
// goroutine of their own, and once a call fails the node works alone: it
// serves its own connections (logins, messages, pushes and kicks between
// them) without asking Redis, and keeps checking it (Options.CheckInterval).
// When Redis answers again with its subscription live, or when it is found
// to have lost this node's registrations (a restart without persistence),
// the node registers its connections again and pushes PushSync to its
// clients, which catch up with what other nodes' pushes may have missed
// meanwhile. Kicks from other nodes that Redis could not carry are found
// in the store (the server polls the kicked sessions).
type Cluster struct {
	rdb     *goredis.Client
	node    string
	prefix  string
	hub     *gateway.Hub
	ttl     time.Duration
	timeout time.Duration
	check   time.Duration
	log     *slog.Logger
	onApp   func(app uint64)

	down   atomic.Bool // a Redis call failed: work alone until a check passes
	routes chan route  // pushes for other nodes, sent by routeLoop

	decodeErrors  atomic.Int64
	publishErrors atomic.Int64
	unrouted      atomic.Int64
	resyncs       atomic.Int64

	mu   sync.Mutex             // guards gone, missed, overflow
	gone []gateway.Registration // ended while Redis was unreachable: unregistered at resync
	// missed are the users whose pushes to other nodes were not sent;
	// overflow: more than maxMissed of them. At the resync they (or, on
	// overflow, every client of every node) are told to sync.
	missed   map[userKey]struct{}
	overflow bool

	sub    *goredis.PubSub
	cancel context.CancelFunc
	quit   chan struct{} // closed by Close: routeLoop sends what is queued and ends
	wg     sync.WaitGroup
}

type userKey struct {
	app  uint64
	user string
}

// route is a push for a user's connections on other nodes.
type route struct {
	app    uint64
	user   string
	frame  []byte
	except string
}

// maxGone bounds the connections remembered for unregistering after an
// outage; beyond it, stale registrations stay until overwritten or expired.
// maxMissed bounds the users remembered for a sync hint; beyond it every
// client is told.
const (
	maxGone   = 100000
	maxMissed = 10000
)

// miss remembers users whose pushes did not reach the other nodes.
func (c *Cluster) miss(batch []route) {
	c.unrouted.Add(int64(len(batch)))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range batch {
		if len(c.missed) >= maxMissed {
			c.overflow = true
			return
		}
		c.missed[userKey{r.app, r.user}] = struct{}{}
	}
}

// syncFrame is PushSync.
var syncFrame, _ = protocol.AppendPush(nil, protocol.PushSync, nil)

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
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var b [8]byte
	rand.Read(b[:])
	c := &Cluster{
		rdb: goredis.NewClient(&goredis.Options{
			Addr: o.Addr, Password: o.Password, DB: o.DB,
			DialTimeout: o.Timeout, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout,
			PoolTimeout: o.Timeout, ContextTimeoutEnabled: true,
			MaxRetries: -1, // a failed call is not tried again: the node works alone
		}),
		node:    hex.EncodeToString(b[:]),
		prefix:  o.Prefix,
		hub:     o.Hub,
		ttl:     o.NodeTTL,
		timeout: o.Timeout,
		check:   o.CheckInterval,
		log:     o.Logger,
		onApp:   o.OnAppChanged,
		routes:  make(chan route, 8192),
		missed:  make(map[userKey]struct{}),
		quit:    make(chan struct{}),
	}
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		c.rdb.Close()
		return nil, fmt.Errorf("redis %s: %w", o.Addr, err)
	}
	if err := c.rdb.Set(ctx, c.nodeKey(c.node), time.Now().Unix(), c.ttl).Err(); err != nil {
		c.rdb.Close()
		return nil, fmt.Errorf("redis heartbeat: %w", err)
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
	c.wg.Add(3)
	go c.receive()
	go c.watch(bctx)
	go c.routeLoop()
	return c, nil
}

// Ping checks that Redis answers, within the call deadline, and that this
// node is in touch with it (not working alone since a failed call).
func (c *Cluster) Ping(parent context.Context) error {
	ctx, cancel := c.bound(parent)
	defer cancel()
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	if c.down.Load() {
		return errors.New("redis answers again; this node has not registered its connections again yet")
	}
	return nil
}

// Node returns this node's ID.
func (c *Cluster) Node() string { return c.node }

// Up reports whether this node is in touch with Redis (false: it works
// alone until a check passes).
func (c *Cluster) Up() bool { return !c.down.Load() }

// Close leaves the cluster: this node's registrations expire with it.
func (c *Cluster) Close() error {
	close(c.quit)
	c.cancel()
	c.sub.Close()
	c.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
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

// bound returns ctx with the deadline of one Redis call.
func (c *Cluster) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// failed notes a failed Redis call: unless the caller gave up (parent is
// done), the node works alone from now on until a check passes.
func (c *Cluster) failed(parent context.Context, what string, err error) {
	if parent.Err() != nil {
		return
	}
	if re, ok := errors.AsType[goredis.Error](err); ok && !isUnavailable(re) {
		// Redis answered: a refusal (a bug of ours, or a misconfigured
		// server) is logged by the caller; the node stays in touch.
		return
	}
	if c.down.CompareAndSwap(false, true) {
		c.log.Error("redis unreachable: this node serves its own connections alone until it answers", "during", what, "err", err)
	}
}

// isUnavailable reports whether an error reply of Redis means it cannot
// serve now.
func isUnavailable(err goredis.Error) bool {
	for _, p := range []string{"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY"} {
		if strings.HasPrefix(err.Error(), p) {
			return true
		}
	}
	return false
}

// watch checks Redis every CheckInterval until ctx ends.
func (c *Cluster) watch(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(c.check)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.checkOnce(ctx)
		}
	}
}

// checkOnce renews this node's heartbeat and checks that its subscription
// is live. After an outage, or when Redis had lost the heartbeat (it
// restarted empty, or this node was away longer than NodeTTL), it
// registers this node's connections again.
func (c *Cluster) checkOnce(parent context.Context) {
	ctx, cancel := c.bound(parent)
	defer cancel()
	var beat *goredis.Cmd
	var subs *goredis.MapStringIntCmd
	_, err := c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		beat = p.Do(ctx, "SET", c.nodeKey(c.node), time.Now().Unix(), "EX", int(c.ttl/time.Second), "GET")
		subs = p.PubSubNumSub(ctx, c.channel(c.node))
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		c.failed(parent, "check", err)
		return
	}
	if subs.Val()[c.channel(c.node)] == 0 {
		// Redis is back but go-redis has not subscribed again yet.
		c.failed(parent, "check", errors.New("this node's subscription is not live"))
		return
	}
	lost := errors.Is(beat.Err(), goredis.Nil)
	if lost || c.down.Load() {
		c.resync(parent, lost)
	}
}

// resync registers this node's connections again, unregisters those that
// ended meanwhile, and tells every client of this node to sync: pushes
// from other nodes may have missed it.
func (c *Cluster) resync(parent context.Context, lost bool) {
	// From now on logins register themselves; the ones before are in
	// the hub, below.
	c.down.Store(false)
	c.mu.Lock()
	gone := c.gone
	c.gone = nil
	c.mu.Unlock()
	regs := c.hub.Registered()
	if err := c.registerAll(parent, regs, gone); err != nil {
		c.mu.Lock()
		c.gone = append(gone, c.gone...)
		c.mu.Unlock()
		c.failed(parent, "resync", err)
		return
	}
	// Connections that ended while they were registered again.
	live := make(map[uint64]bool)
	for _, r := range c.hub.Registered() {
		live[r.Conn] = true
	}
	var ended []gateway.Registration
	for _, r := range regs {
		if !live[r.Conn] {
			ended = append(ended, r)
		}
	}
	if len(ended) > 0 {
		if err := c.registerAll(parent, nil, ended); err != nil {
			c.failed(parent, "resync", err)
			return
		}
	}
	c.resyncs.Add(1)
	n := c.hub.HintSync()
	c.hintMissed(parent)
	c.log.Warn("redis: this node registered its connections again and told its clients to sync",
		"redis_lost_them", lost, "registered", len(regs), "unregistered", len(gone)+len(ended), "told", n)
}

// hintMissed tells the users whose pushes to other nodes were not sent to
// sync, wherever they are; when there were too many to remember, every
// node tells all its clients.
func (c *Cluster) hintMissed(parent context.Context) {
	c.mu.Lock()
	missed, overflow := c.missed, c.overflow
	c.missed, c.overflow = make(map[userKey]struct{}), false
	c.mu.Unlock()
	if overflow {
		ctx, cancel := c.bound(parent)
		defer cancel()
		if err := c.rdb.Publish(ctx, c.appsChannel(), []byte{kindSyncAll}).Err(); err != nil {
			c.publishErrors.Add(1)
			c.log.Error("redis publish sync hint", "err", err)
		}
		return
	}
	for k := range missed {
		c.Deliver(parent, k.app, k.user, syncFrame, "")
	}
}

// registerAll registers regs (unless another node holds the same session)
// and unregisters gone, in pipelines of a bounded size, each within the
// call deadline.
func (c *Cluster) registerAll(parent context.Context, regs, gone []gateway.Registration) error {
	const chunk = 1000
	ctx, cancel := c.bound(parent)
	err := reregister.Load(ctx, c.rdb).Err()
	if err == nil {
		err = unregister.Load(ctx, c.rdb).Err()
	}
	cancel()
	if err != nil {
		return fmt.Errorf("redis load scripts: %w", err)
	}
	ttl := int(connsTTL / time.Second)
	for len(regs) > 0 || len(gone) > 0 {
		ctx, cancel := c.bound(parent)
		_, err := c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			n := 0
			for ; n < chunk && len(regs) > 0; n++ {
				r := regs[0].Session
				reregister.EvalSha(ctx, p, []string{c.connsKey(r.App, r.UserID)}, r.ID, c.value(r.Platform, regs[0].Conn), c.node+" ", ttl)
				regs = regs[1:]
			}
			for ; n < chunk && len(gone) > 0; n++ {
				r := gone[0].Session
				unregister.EvalSha(ctx, p, []string{c.connsKey(r.App, r.UserID)}, r.ID, c.value(r.Platform, gone[0].Conn))
				gone = gone[1:]
			}
			return nil
		})
		cancel()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return fmt.Errorf("redis register again: %w", err)
		}
	}
	return nil
}

// reregister sets a field unless another node holds it (ARGV[3] is this
// node's prefix of a value).
var reregister = goredis.NewScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and string.sub(old, 1, #ARGV[3]) ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1`)

// Online registers a logged-in connection of this node. When the session
// was registered on another node (a resume after a network change), that
// node is told to close its old connection. It implements gateway.Presence.
// While Redis is unreachable it does nothing: the connection is registered
// when Redis answers again.
func (c *Cluster) Online(parent context.Context, s store.Session, conn uint64) error {
	if c.down.Load() {
		return nil
	}
	ctx, cancel := c.bound(parent)
	defer cancel()
	k := c.connsKey(s.App, s.UserID)
	old, err := register.Run(ctx, c.rdb, []string{k}, s.ID, c.value(s.Platform, conn), int(connsTTL/time.Second)).Text()
	if err != nil && !errors.Is(err, goredis.Nil) {
		c.failed(parent, "register", err)
		return fmt.Errorf("redis register %s (registered again when Redis answers): %w", s.UserID, err)
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
// While Redis is unreachable it remembers the connection, to unregister it
// when Redis answers again.
func (c *Cluster) Offline(parent context.Context, s store.Session, conn uint64) {
	if !c.down.Load() {
		ctx, cancel := c.bound(parent)
		k := c.connsKey(s.App, s.UserID)
		n, err := unregister.Run(ctx, c.rdb, []string{k}, s.ID, c.value(s.Platform, conn)).Int()
		cancel()
		if err == nil && n == 1 {
			c.reclaim(parent, s, conn)
		}
		if err == nil || errors.Is(err, goredis.Nil) {
			return
		}
		c.log.Error("redis unregister", "user", s.UserID, "err", err)
		c.failed(parent, "unregister", err)
	}
	c.mu.Lock()
	if len(c.gone) < maxGone {
		c.gone = append(c.gone, gateway.Registration{Session: s, Conn: conn})
	}
	c.mu.Unlock()
}

// reclaim registers again the connection of this node that replaced conn
// in session s, if there is one: Redis named conn still (a resync wrote
// it after the newer one's own registration), and its unregistering just
// deleted the session's registration.
func (c *Cluster) reclaim(parent context.Context, s store.Session, conn uint64) {
	for _, cn := range c.hub.Conns(s.App, s.UserID) {
		if cn.ID() == conn || cn.Session().ID != s.ID {
			continue
		}
		ctx, cancel := c.bound(parent)
		err := register.Run(ctx, c.rdb, []string{c.connsKey(s.App, s.UserID)}, s.ID, c.value(s.Platform, cn.ID()), int(connsTTL/time.Second)).Err()
		cancel()
		if err != nil && !errors.Is(err, goredis.Nil) {
			c.failed(parent, "register", err)
		}
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
	return parseConns(m), nil
}

func parseConns(m map[string]string) []conn {
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
	return out
}

// Message kinds between nodes.
const (
	kindDeliver = 'd' // "<app> <user> <except>\n" and a push frame
	kindKick    = 'k' // a kicked store.Session, JSON
	kindReplace = 'r' // "<app> <user> <session>": close that connection
	kindApp     = 'a' // "<app>": its settings changed (on appsChannel)
	kindSyncAll = 's' // every client should sync (on appsChannel)
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
func (c *Cluster) AppChanged(parent context.Context, app uint64) {
	if c.down.Load() {
		c.log.Warn("redis unreachable: other nodes apply the app's change when their cache expires", "app", app)
		return
	}
	ctx, cancel := c.bound(parent)
	defer cancel()
	msg := strconv.AppendUint([]byte{kindApp}, app, 10)
	if err := c.rdb.Publish(ctx, c.appsChannel(), msg).Err(); err != nil {
		c.publishErrors.Add(1)
		c.log.Error("redis publish app change; other nodes apply it when their cache expires", "app", app, "err", err)
		c.failed(parent, "publish", err)
	}
}

// DecodeErrors returns how many messages from other nodes could not be
// decoded (each is logged).
func (c *Cluster) DecodeErrors() int64 { return c.decodeErrors.Load() }

// PublishErrors returns how many messages to other nodes Redis did not
// take (each is logged).
func (c *Cluster) PublishErrors() int64 { return c.publishErrors.Load() }

// Unrouted returns how many pushes for other nodes were not sent there
// (Redis unreachable, the queue full, or no node listening); the clients
// that missed them catch up when told to sync (see Cluster).
func (c *Cluster) Unrouted() int64 { return c.unrouted.Load() }

// Resyncs returns how many times this node registered its connections
// again after an outage or a Redis that lost them.
func (c *Cluster) Resyncs() int64 { return c.resyncs.Load() }

// Deliver pushes an encoded frame to the user's connections: at once to
// this node's, and through a queue to the other nodes that hold one. It
// never waits on Redis. It implements message.Router.
func (c *Cluster) Deliver(_ context.Context, app uint64, user string, frame []byte, except string) {
	c.hub.Deliver(app, user, frame, except)
	r := route{app: app, user: user, frame: frame, except: except}
	if c.down.Load() {
		c.miss([]route{r}) // told to sync at the resync
		return
	}
	select {
	case c.routes <- r:
	default:
		c.miss([]route{r})
		if n := c.unrouted.Load(); n%1000 == 1 {
			c.log.Error("redis: pushes for other nodes are queued faster than Redis takes them; dropping (counted in imkit_cluster_unrouted_pushes_total)", "user", user, "unrouted", n)
		}
	}
}

// routeLoop sends queued pushes to the nodes that hold their users'
// connections, in order, a batch at a time: one pipeline looks the users
// up, one publishes.
func (c *Cluster) routeLoop() {
	defer c.wg.Done()
	batch := make([]route, 0, 256)
	for {
		select {
		case r := <-c.routes:
			batch = append(batch[:0], r)
		case <-c.quit:
			// Send what was queued before the node stopped.
			for {
				batch = batch[:0]
			drain:
				for len(batch) < cap(batch) {
					select {
					case r := <-c.routes:
						batch = append(batch, r)
					default:
						break drain
					}
				}
				if len(batch) == 0 {
					return
				}
				c.routeBatch(context.Background(), batch)
			}
		}
	more:
		for len(batch) < cap(batch) {
			select {
			case r := <-c.routes:
				batch = append(batch, r)
			default:
				break more
			}
		}
		c.routeBatch(context.Background(), batch)
	}
}

func (c *Cluster) routeBatch(parent context.Context, batch []route) {
	if c.down.Load() {
		c.miss(batch)
		return
	}
	ctx, cancel := c.bound(parent)
	defer cancel()
	lookups := make(map[userKey]*goredis.MapStringStringCmd)
	_, err := c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, r := range batch {
			k := userKey{r.app, r.user}
			if lookups[k] == nil {
				lookups[k] = p.HGetAll(ctx, c.connsKey(r.app, r.user))
			}
		}
		return nil
	})
	if err != nil {
		c.miss(batch)
		c.log.Error("redis lookup", "pushes", len(batch), "err", err)
		c.failed(parent, "lookup", err)
		return
	}
	var pubs []*goredis.IntCmd
	_, err = c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		var b bytes.Buffer
		for _, r := range batch {
			sent := map[string]bool{c.node: true}
			for _, cn := range parseConns(lookups[userKey{r.app, r.user}].Val()) {
				if sent[cn.node] {
					continue
				}
				sent[cn.node] = true
				b.Reset()
				b.WriteByte(kindDeliver)
				fmt.Fprintf(&b, "%d %s %s\n", r.app, r.user, r.except)
				b.Write(r.frame)
				pubs = append(pubs, p.Publish(ctx, c.channel(cn.node), bytes.Clone(b.Bytes())))
			}
		}
		return nil
	})
	if err != nil {
		c.publishErrors.Add(int64(len(pubs)))
		c.miss(batch)
		c.log.Error("redis publish", "messages", len(pubs), "err", err)
		c.failed(parent, "publish", err)
		return
	}
	for _, p := range pubs {
		if p.Val() == 0 {
			// No node listens there: it is gone (its registrations
			// linger), or it is subscribing again after an outage and
			// tells its clients to sync when it is back.
			c.unrouted.Add(1)
		}
	}
}

// Kicked tells the kicked sessions' connections, on whichever node holds
// them. It implements session.Notifier. While Redis is unreachable it
// tells this node's only; the others find the kicks in the store.
func (c *Cluster) Kicked(parent context.Context, sessions []store.Session) {
	var local []store.Session
	for _, s := range sessions {
		if c.down.Load() {
			local = append(local, s)
			continue
		}
		ctx, cancel := c.bound(parent)
		node, err := c.rdb.HGet(ctx, c.connsKey(s.App, s.UserID), s.ID).Result()
		cancel()
		if errors.Is(err, goredis.Nil) {
			continue // not connected anywhere: it learns at its next resume
		}
		if err != nil {
			c.log.Error("redis lookup", "user", s.UserID, "err", err)
			c.failed(parent, "lookup", err)
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
		ctx, cancel = c.bound(parent)
		c.publish(ctx, node, append([]byte{kindKick}, body...))
		cancel()
	}
	if len(local) > 0 {
		c.hub.Kicked(parent, local)
	}
}

// Platforms returns, for each user with a connection on a live node, the
// platforms of its connections.
func (c *Cluster) Platforms(parent context.Context, app uint64, users []string) (map[string][]imkit.Platform, error) {
	if c.down.Load() {
		return nil, errUnreachable
	}
	ctx, cancel := c.bound(parent)
	defer cancel()
	m, err := c.platforms(ctx, app, users)
	if err != nil {
		c.failed(parent, "online state", err)
	}
	return m, err
}

// errUnreachable fails calls while the node works alone.
var errUnreachable = errors.New("redis unreachable")

func (c *Cluster) platforms(ctx context.Context, app uint64, users []string) (map[string][]imkit.Platform, error) {
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
func (c *Cluster) SumPeaks(parent context.Context, local map[uint64]int, ttl time.Duration) (map[uint64]int, error) {
	if c.down.Load() {
		return nil, errUnreachable
	}
	ctx, cancel := c.bound(parent)
	defer cancel()
	sum, err := c.sumPeaks(ctx, local, ttl)
	if err != nil {
		c.failed(parent, "peaks", err)
	}
	return sum, err
}

func (c *Cluster) sumPeaks(ctx context.Context, local map[uint64]int, ttl time.Duration) (map[uint64]int, error) {
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
func (c *Cluster) WithdrawPeaks(parent context.Context) error {
	if c.down.Load() {
		return errUnreachable
	}
	ctx, cancel := c.bound(parent)
	defer cancel()
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
	case kindSyncAll:
		c.hub.HintSync()
	default:
		return fmt.Errorf("unknown kind %q", b[0])
	}
	return nil
}
