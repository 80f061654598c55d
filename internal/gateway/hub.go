package gateway

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/protocol"
)

// Hub knows the logged-in connections of this node, by user. It delivers
// pushes to a user's connections, tells kicked sessions, and answers who is
// online. It implements session.Notifier for one node.
type Hub struct {
	seed   maphash.Seed
	shards [hubShards]hubShard
	online atomic.Int64
	apps   sync.Map // uint64 -> *appCount
}

// appCount counts an app's connections on this node, and the most there
// were since the peak was last taken.
type appCount struct {
	cur, peak atomic.Int64
}

func (h *Hub) count(app uint64) *appCount {
	if c, ok := h.apps.Load(app); ok {
		return c.(*appCount)
	}
	c, _ := h.apps.LoadOrStore(app, new(appCount))
	return c.(*appCount)
}

// TakePeaks returns, per app, the most connections online at once since the
// last call (at least the number online now), and starts counting afresh.
func (h *Hub) TakePeaks() map[uint64]int {
	out := make(map[uint64]int)
	h.apps.Range(func(k, v any) bool {
		c := v.(*appCount)
		cur := c.cur.Load()
		if p := c.peak.Swap(cur); p > 0 || cur > 0 {
			out[k.(uint64)] = int(max(p, cur))
		}
		return true
	})
	return out
}

const hubShards = 64

type hubShard struct {
	mu    sync.Mutex // guards users
	users map[userKey][]*Conn
}

type userKey struct {
	app  uint64
	user string
}

// NewHub returns an empty Hub.
func NewHub() *Hub {
	h := &Hub{seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].users = make(map[userKey][]*Conn)
	}
	return h
}

func (h *Hub) shard(k userKey) *hubShard {
	var mh maphash.Hash
	mh.SetSeed(h.seed)
	mh.WriteString(k.user)
	return &h.shards[(mh.Sum64()^k.app)%hubShards]
}

// add registers a logged-in connection; it returns the connection the same
// session had here before (now replaced), if any.
func (h *Hub) add(c *Conn, sess store.Session) (replaced *Conn) {
	k := userKey{sess.App, sess.UserID}
	s := h.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := s.users[k]
	for i, o := range conns {
		if o.sessionID() == sess.ID {
			conns[i] = c
			return o
		}
	}
	s.users[k] = append(conns, c)
	h.online.Add(1)
	ac := h.count(sess.App)
	n := ac.cur.Add(1)
	for p := ac.peak.Load(); n > p && !ac.peak.CompareAndSwap(p, n); p = ac.peak.Load() {
	}
	return nil
}

// remove unregisters a connection, if it is registered.
func (h *Hub) remove(c *Conn, sess store.Session) {
	k := userKey{sess.App, sess.UserID}
	s := h.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := s.users[k]
	for i, o := range conns {
		if o == c {
			conns[i] = conns[len(conns)-1]
			conns[len(conns)-1] = nil
			conns = conns[:len(conns)-1]
			if len(conns) == 0 {
				delete(s.users, k)
			} else {
				s.users[k] = conns
			}
			h.online.Add(-1)
			h.count(sess.App).cur.Add(-1)
			return
		}
	}
}

// Conns returns the user's connections on this node.
func (h *Hub) Conns(app uint64, user string) []*Conn {
	k := userKey{app, user}
	s := h.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Conn(nil), s.users[k]...)
}

// Deliver queues an encoded frame on every connection of the user except
// the one of session except (empty: none), and returns how many it reached.
func (h *Hub) Deliver(app uint64, user string, frame []byte, except string) int {
	k := userKey{app, user}
	s := h.shard(k)
	s.mu.Lock()
	conns := s.users[k]
	var buf [8]*Conn
	targets := append(buf[:0], conns...)
	s.mu.Unlock()
	n := 0
	for _, c := range targets {
		if c.deliver(frame, except) {
			n++
		}
	}
	return n
}

// deliver queues a push unless the connection is of session except, or is
// not logged in yet (its login's sync fetches what it misses).
func (c *Conn) deliver(frame []byte, except string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ready || except != "" && c.sess.ID == except {
		return false
	}
	return c.sendLocked(frame)
}

// Kicked tells the sessions' connections on this node that they were
// kicked: PushKicked, then CloseKicked.
func (h *Hub) Kicked(ctx context.Context, sessions []store.Session) {
	for _, sess := range sessions {
		for _, c := range h.Conns(sess.App, sess.UserID) {
			if c.sessionID() == sess.ID {
				c.kick(sess.Kick)
			}
		}
	}
}

// CloseSession closes the connection of a session on this node, if there
// is one, with code.
func (h *Hub) CloseSession(app uint64, user, session string, code int) {
	for _, c := range h.Conns(app, user) {
		if c.sessionID() == session {
			c.Close(code)
		}
	}
}

// Online returns, for each user with a connection on this node, the
// platforms of its connections.
func (h *Hub) Online(app uint64, users []string) map[string][]imkit.Platform {
	out := make(map[string][]imkit.Platform)
	for _, u := range users {
		for _, c := range h.Conns(app, u) {
			if sess, ok := c.readySession(); ok {
				out[u] = append(out[u], sess.Platform)
			}
		}
	}
	return out
}

// Count returns the number of logged-in connections on this node.
func (h *Hub) Count() int { return int(h.online.Load()) }

// all returns every logged-in connection.
func (h *Hub) all() []*Conn {
	var out []*Conn
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		for _, conns := range s.users {
			out = append(out, conns...)
		}
		s.mu.Unlock()
	}
	return out
}

// readySession returns the session of a logged-in connection.
func (c *Conn) readySession() (store.Session, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess, c.ready
}

func (c *Conn) sessionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.ID
}

// kick pushes the kick to the client and closes the connection with
// CloseKicked. Before the login reply is queued it holds the kick back; the
// handshake delivers it after the reply.
func (c *Conn) kick(k store.Kick) {
	b, err := protocol.AppendPush(nil, protocol.PushKicked, KickPayload(k))
	if err != nil {
		c.gw.log.Error("encode kick", "err", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.replied {
		if c.heldKick == nil {
			c.heldKick = &k
		}
		return
	}
	if c.closing {
		return
	}
	c.sendLocked(b)
	c.closeLocked(protocol.CloseKicked)
}

// KickPayload converts a stored kick to its wire form.
func KickPayload(k store.Kick) protocol.Kick {
	return protocol.Kick{Reason: k.Reason, Platform: k.Platform, Time: k.At.UnixMilli()}
}

// Registration is a logged-in connection of this node, as package redis
// registers it for the other nodes.
type Registration struct {
	Session store.Session
	Conn    uint64 // the connection's ID, unique on this node
}

// Registered returns every connection of this node with a session: the
// logged-in ones and those whose login or resume is being decided (they
// joined the hub before the store decided, and may have skipped their
// registration while Redis was unreachable); not those that are closing.
func (h *Hub) Registered() []Registration {
	var out []Registration
	for _, c := range h.all() {
		if c.isClosing() {
			// On its way out: registering it again would outlive it on
			// another node's behalf (its Offline deletes what it holds).
			continue
		}
		if sess := c.Session(); sess.ID != "" {
			out = append(out, Registration{Session: sess, Conn: c.id})
		}
	}
	return out
}

// HintSync pushes PushSync to every logged-in connection of this node: each
// client catches up with what it may have missed (after the nodes lost
// touch, pushes from other nodes may not have reached it). It returns how
// many it told.
func (h *Hub) HintSync() int {
	frame, err := protocol.AppendPush(nil, protocol.PushSync, nil)
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range h.all() {
		if c.deliver(frame, "") {
			n++
		}
	}
	return n
}
