// Package gateway accepts the SDK's WebSocket connections: it upgrades them,
// runs the login handshake with package session, reads frames and dispatches
// requests, queues replies and pushes on a bounded per-connection queue, and
// ends connections on kicks, ticket expiry, logout, idle links and shutdown.
// The wire protocol is in package protocol.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/session"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/protocol"
)

// Handler serves one request op of a logged-in connection. It must answer
// with exactly one c.Reply or c.ReplyError for f.ID, now or later; it runs on
// the connection's read loop, so anything slow should reply asynchronously.
type Handler func(c *Conn, f *protocol.Frame)

// Config configures a Gateway. The zero value of every field but Sessions
// works.
type Config struct {
	Sessions *session.Service
	// Hub tracks this node's connections; nil makes a new one.
	Hub *Hub
	// Heartbeat is the interval at which clients ping (default 30s); the
	// server closes a link silent for IdleTimeout (default 3 heartbeats).
	Heartbeat   time.Duration
	IdleTimeout time.Duration
	// ExpiryLead is how long before a ticket runs out the client is told to
	// renew it (default 5 minutes).
	ExpiryLead time.Duration
	// WriteTimeout bounds each write to a client (default 10s).
	WriteTimeout time.Duration
	// MaxQueue is the most bytes queued for one client before it is
	// disconnected as a slow consumer (default 4 MiB).
	MaxQueue int
	// RequestRate and RequestBurst limit the requests of one connection
	// (pings, renewals and logouts aside): RequestRate a second (default 100; negative: no
	// limit), RequestBurst at once (default 3 × RequestRate). A request
	// over the limit is answered with 7008 and not carried out.
	RequestRate  float64
	RequestBurst int
	// MaxSeq returns the newest sequence in a user's mailbox, for the login
	// reply; nil reports 0.
	MaxSeq func(ctx context.Context, app uint64, user string) (uint64, error)
	// Presence, when set, registers logged-in connections where other
	// nodes find them (package redis); nil keeps them to this node.
	Presence Presence
	// OnDisconnect, when set, is called when a logged-in connection ends
	// without a logout, kick or expiry; reason is "LinkClose" or "TimeOut";
	// clientIP is the client's address. It must not block.
	OnDisconnect func(sess store.Session, clientIP, reason string)
	// TrustedProxies are the networks of the load balancers or proxies in
	// front of the server: for a connection from one of them, the client's
	// address is taken from X-Forwarded-For (the nearest address that is
	// not a trusted proxy) or X-Real-IP. Else it is the connection's peer.
	TrustedProxies []netip.Prefix
	// Logger receives errors; nil discards.
	Logger *slog.Logger
}

// Presence registers this node's logged-in connections for other nodes:
// conn tells two connections of one session apart.
type Presence interface {
	Online(ctx context.Context, s store.Session, conn uint64) error
	Offline(ctx context.Context, s store.Session, conn uint64)
}

// Gateway serves the WebSocket endpoint.
type Gateway struct {
	sessions     *session.Service
	hub          *Hub
	heartbeat    time.Duration
	idleTimeout  time.Duration
	expiryLead   time.Duration
	writeTimeout time.Duration
	maxQueue     int
	reqRate      float64
	reqBurst     float64
	maxSeq       func(ctx context.Context, app uint64, user string) (uint64, error)
	onDisconnect func(sess store.Session, clientIP, reason string)
	trusted      []netip.Prefix
	presence     Presence
	nextConn     atomic.Uint64
	log          *slog.Logger
	upgrader     websocket.Upgrader
	handlers     map[string]Handler

	mu       sync.Mutex // guards conns, shutdown
	conns    map[*Conn]struct{}
	shutdown bool
	wg       sync.WaitGroup // one per connection being served
}

// New returns a Gateway.
func New(cfg Config) *Gateway {
	g := &Gateway{
		sessions:     cfg.Sessions,
		hub:          cfg.Hub,
		heartbeat:    cfg.Heartbeat,
		idleTimeout:  cfg.IdleTimeout,
		expiryLead:   cfg.ExpiryLead,
		writeTimeout: cfg.WriteTimeout,
		maxQueue:     cfg.MaxQueue,
		reqRate:      cfg.RequestRate,
		reqBurst:     float64(cfg.RequestBurst),
		maxSeq:       cfg.MaxSeq,
		onDisconnect: cfg.OnDisconnect,
		trusted:      cfg.TrustedProxies,
		presence:     cfg.Presence,
		log:          cfg.Logger,
		handlers:     make(map[string]Handler),
		conns:        make(map[*Conn]struct{}),
	}
	if g.hub == nil {
		g.hub = NewHub()
	}
	if g.heartbeat <= 0 {
		g.heartbeat = 30 * time.Second
	}
	if g.idleTimeout <= 0 {
		g.idleTimeout = 3 * g.heartbeat
	}
	if g.expiryLead <= 0 {
		g.expiryLead = 5 * time.Minute
	}
	if g.writeTimeout <= 0 {
		g.writeTimeout = 10 * time.Second
	}
	if g.maxQueue <= 0 {
		g.maxQueue = 4 << 20
	}
	if g.reqRate == 0 {
		g.reqRate = 100
	}
	if g.reqBurst <= 0 {
		g.reqBurst = 3 * g.reqRate
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.upgrader = websocket.Upgrader{
		// A small read buffer and pooled write buffers keep an idle
		// connection to a few kilobytes.
		ReadBufferSize:  256,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		// The SDK is not a browser page; browsers send Origin and the app's
		// own pages are served from elsewhere, so any origin may connect.
		// Authentication is the ticket in the first frame, not cookies.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return g
}

// Hub returns the gateway's hub.
func (g *Gateway) Hub() *Hub { return g.hub }

// Handle registers the handler of a request op. Call before serving.
func (g *Gateway) Handle(op string, h Handler) { g.handlers[op] = h }

// ServeHTTP upgrades the request to a WebSocket and serves the connection
// until it ends.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if g.shutdown {
		g.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()

	ws, err := g.upgrader.Upgrade(w, r, nil)
	if err != nil {
		g.wg.Done()
		return // the upgrader has answered
	}
	// Only the upgrade is gorilla's: framing is done here (ws.go), on the
	// socket, and gorilla's Conn is dropped.
	c, ok := g.handshake(ws.UnderlyingConn(), g.clientIP(r))
	if !ok {
		return
	}
	// The logged-in connection is served on a goroutine of its own; this
	// one ends, and with it net/http's buffers for the connection, its
	// request, and the stack the login grew (about 25 KB per connection
	// otherwise).
	go g.serve(c)
}

// clientIP returns the address of the client r comes from: its peer's, or
// when the peer is a trusted proxy, what the proxies say.
func (g *Gateway) clientIP(r *http.Request) string {
	peer := parseIP(r.RemoteAddr)
	if !peer.IsValid() {
		return r.RemoteAddr
	}
	if !g.isTrusted(peer) {
		return peer.String()
	}
	// X-Forwarded-For lists the addresses the request came through, the
	// nearest last: the first from the right that is not a trusted proxy is
	// the client. Anything before it could be made up by the client.
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		hops := strings.Split(strings.Join(xff, ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			ip := parseIP(strings.TrimSpace(hops[i]))
			if !ip.IsValid() {
				break
			}
			if !g.isTrusted(ip) || i == 0 {
				return ip.String()
			}
		}
		return peer.String()
	}
	if ip := parseIP(strings.TrimSpace(r.Header.Get("X-Real-IP"))); ip.IsValid() {
		return ip.String()
	}
	return peer.String()
}

func (g *Gateway) isTrusted(ip netip.Addr) bool {
	for _, p := range g.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseIP parses an address with or without a port ("" or junk: invalid),
// IPv4-mapped IPv6 addresses as IPv4.
func parseIP(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	ip, _ := netip.ParseAddr(s)
	return ip.Unmap()
}

// handshake registers a new connection and runs its login. When the login
// fails it cleans up and returns false; else the caller must serve c.
func (g *Gateway) handshake(nc net.Conn, remote string) (*Conn, bool) {
	c := newConn(g, nc, remote)
	g.mu.Lock()
	shutdown := g.shutdown
	if !shutdown {
		g.conns[c] = struct{}{}
	}
	g.mu.Unlock()
	if shutdown {
		nc.Write(appendClose(nil, protocol.CloseServerShutdown, protocol.CloseText(protocol.CloseServerShutdown)))
		nc.Close()
		c.cancel()
		g.wg.Done()
		return nil, false
	}
	if !g.login(c) {
		c.shut()
		g.forget(c)
		return nil, false
	}
	return c, true
}

// serve runs a logged-in connection's read loop until it ends. An idle
// connection waits for its socket here, in this function's small frame:
// the reading and the handling of a frame are in functions of their own, so
// that the goroutine parks a few hundred bytes deep and the runtime shrinks
// its stack to the minimum (2 KB) at the next GC.
func (g *Gateway) serve(c *Conn) {
	var reason string
	for reason == "" {
		c.nc.SetReadDeadline(time.Now().Add(g.idleTimeout))
		if err := c.rd.wait(); err != nil {
			reason = g.readFailed(c, err)
			continue
		}
		reason = g.readOne(c)
	}
	g.finish(c, reason)
}

// finish cleans up after the read loop.
//
//go:noinline
func (g *Gateway) finish(c *Conn, reason string) {
	defer g.forget(c)
	sess, code := g.endConn(c)
	if g.onDisconnect != nil && (code == 0 || protocol.Reconnect(code) && code != protocol.CloseReplaced) {
		g.onDisconnect(sess, c.remote, reason)
	}
}

// forget unregisters an ended connection.
func (g *Gateway) forget(c *Conn) {
	c.cancel()
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	g.wg.Done()
}

// login runs the handshake: the first frame must be OpLogin.
func (g *Gateway) login(c *Conn) bool {
	c.nc.SetReadDeadline(time.Now().Add(protocol.LoginTimeout))
	f, err := c.readFrame()
	if err != nil {
		if _, ok := errors.AsType[*imkit.Error](err); ok {
			c.ReplyError(0, err)
			c.Close(protocol.CloseProtocolError)
		}
		return false
	}
	if f.Op != protocol.OpLogin || f.ID == 0 {
		c.ReplyError(f.ID, imkit.Errorf(imkit.ErrSDKNotLoggedIn, "the first frame must be a %q request", protocol.OpLogin))
		c.Close(protocol.CloseProtocolError)
		return false
	}
	var req protocol.LoginRequest
	if err := protocol.DecodeData(f.Data, &req); err != nil {
		c.ReplyError(f.ID, err)
		c.Close(protocol.CloseLoginFailed)
		return false
	}
	ctx := c.ctx
	// The connection joins the hub before the store decides (attach): a
	// kick committed after the decision finds it there, and one committed
	// before is part of the decision. Until it is ready it gets no pushes,
	// and a kick waits for the login reply (Conn.kick).
	var attached *store.Session
	attach := func(s store.Session) {
		c.mu.Lock()
		c.sess = s
		c.mu.Unlock()
		if old := g.hub.add(c, s); old != nil {
			old.Close(protocol.CloseReplaced)
		}
		attached = &s
		if g.presence != nil {
			if err := g.presence.Online(ctx, s, c.id); err != nil {
				// Kicks from other nodes may miss this connection until it
				// reconnects; the store still refuses a kicked session.
				g.log.Error("register connection", "user", s.UserID, "err", err)
			}
		}
	}
	var sess store.Session
	maxSeq := uint64(0)
	if req.SessionID != "" {
		sess, err = g.sessions.Resume(ctx, &req, attach)
		if err == nil && g.maxSeq != nil {
			if maxSeq, err = g.maxSeq(ctx, sess.App, sess.UserID); err != nil {
				g.log.Error("resume: max seq", "user", sess.UserID, "err", err)
				err = nil // the client syncs without it
			}
		}
	} else {
		// A login's store transaction reads the mailbox's newest seq.
		sess, maxSeq, err = g.sessions.Login(ctx, &req, attach)
	}
	if err != nil {
		if attached != nil {
			g.hub.remove(c, *attached)
			if g.presence != nil {
				g.presence.Offline(ctx, *attached, c.id)
			}
			c.mu.Lock()
			c.sess = store.Session{}
			c.mu.Unlock()
		}
		g.refuse(c, f.ID, err)
		return false
	}
	c.mu.Lock()
	c.sess = sess
	c.loggedIn = true
	c.ready = true // pushes from now on; the post-login sync covers what came before
	c.mu.Unlock()
	// The reply goes first: a client is told it was kicked after it is told
	// its login succeeded, never instead.
	g.replyLogin(c, f.ID, sess, req.SessionID != "", maxSeq)
	c.mu.Lock()
	c.replied = true
	held := c.heldKick
	c.heldKick = nil
	c.setTimersLocked(g.sessions.Now())
	c.mu.Unlock()
	if held != nil {
		c.kick(*held)
	}
	return true
}

func (g *Gateway) replyLogin(c *Conn, id uint64, sess store.Session, resumed bool, maxSeq uint64) {
	c.Reply(id, protocol.LoginReply{
		SessionID:    sess.ID,
		Resumed:      resumed,
		ServerTime:   g.sessions.Now().UnixMilli(),
		TicketExpire: sess.TicketExpire,
		Heartbeat:    g.heartbeat.Milliseconds(),
		MaxSeq:       maxSeq,
	})
}

// refuse answers a failed login and closes with the matching terminal code.
func (g *Gateway) refuse(c *Conn, id uint64, err error) {
	code := protocol.CloseLoginFailed
	if ke, ok := errors.AsType[*session.KickedError](err); ok {
		data, _ := json.Marshal(KickPayload(ke.Kick))
		b, _ := protocol.AppendReply(nil, id, imkit.ErrKickedOffByOther, imkit.ErrorMessage(err), json.RawMessage(data))
		c.Send(b)
		code = protocol.CloseKicked
	} else {
		if _, ok := errors.AsType[*imkit.Error](err); !ok {
			g.log.Error("login", "err", err)
			err = imkit.Errorf(imkit.ErrSvrInternal, "internal error")
			code = protocol.CloseServerError
		}
		if imkit.ErrorCode(err) == imkit.ErrSvrUserSigExpired {
			code = protocol.CloseTicketExpired
		}
		c.ReplyError(id, err)
	}
	c.Close(code) // the handshake's caller waits for it (Conn.shut)
}

// readOne reads and handles one frame of a logged-in connection. It
// returns "" to go on, or why the connection ended: "TimeOut" for an idle
// link, else "LinkClose".
//
//go:noinline
func (g *Gateway) readOne(c *Conn) string {
	f, err := c.readFrame()
	if err != nil {
		return g.readFailed(c, err)
	}
	if c.isClosing() {
		return "" // a close is on its way; read on until the client's
	}
	if !f.IsRequest() {
		c.ReplyError(0, imkit.Errorf(imkit.ErrInvalidParameters, "clients send requests only (an id and an op)"))
		return ""
	}
	g.dispatch(c, &f)
	return ""
}

// readFailed handles a failed read: an undecodable frame is answered (and a
// client that keeps sending them is cut off), anything else ends the
// connection.
func (g *Gateway) readFailed(c *Conn, err error) string {
	if _, ok := errors.AsType[*imkit.Error](err); ok {
		c.ReplyError(0, err)
		if c.bad++; c.bad >= 8 {
			c.Close(protocol.CloseProtocolError)
		}
		return ""
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		c.Close(protocol.CloseIdleTimeout)
		return "TimeOut"
	}
	return "LinkClose"
}

func (g *Gateway) dispatch(c *Conn, f *protocol.Frame) {
	if g.reqRate > 0 && limited(f.Op) && !c.limit.Take(time.Now(), g.reqRate, g.reqBurst) {
		c.ReplyError(f.ID, imkit.Errorf(imkit.ErrAPICallFrequency,
			"more than %g requests a second on this connection; slow down", g.reqRate))
		return
	}
	switch f.Op {
	case protocol.OpPing:
		c.Reply(f.ID, nil)
	case protocol.OpLogin:
		c.ReplyError(f.ID, imkit.Errorf(imkit.ErrInvalidParameters, "already logged in on this connection"))
	case protocol.OpLogout:
		sess := c.Session()
		if err := g.sessions.Logout(c.ctx, sess); err != nil {
			g.log.Error("logout", "session", sess.ID, "err", err)
			c.ReplyError(f.ID, imkit.Errorf(imkit.ErrSvrInternal, "logout failed"))
			return
		}
		c.Reply(f.ID, nil)
		c.Close(protocol.CloseLoggedOut)
	case protocol.OpRenew:
		var req protocol.RenewRequest
		if err := protocol.DecodeData(f.Data, &req); err != nil {
			c.ReplyError(f.ID, err)
			return
		}
		// Renewal and expiry of one connection's session take turns: a
		// renewal that the store took is never undone by the expiry timer
		// firing meanwhile.
		c.ticketMu.Lock()
		exp, err := g.sessions.Renew(c.ctx, c.Session(), req.UserSig)
		if err == nil {
			c.mu.Lock()
			c.sess.TicketExpire = exp
			c.setTimersLocked(g.sessions.Now())
			c.mu.Unlock()
		}
		c.ticketMu.Unlock()
		if err != nil {
			g.replyErr(c, f.ID, "renew", err)
			if ke, ok := errors.AsType[*session.KickedError](err); ok {
				c.kick(ke.Kick)
			}
			return
		}
		c.Reply(f.ID, protocol.RenewReply{TicketExpire: exp})
	default:
		h, ok := g.handlers[f.Op]
		if !ok {
			c.ReplyError(f.ID, imkit.Errorf(imkit.ErrInvalidParameters, "unknown op %q", f.Op))
			return
		}
		h(c, f)
	}
}

// limited reports whether requests of op count against a connection's
// request limit: not the ones that keep the session (ping, renew) or end it
// (logout), which a client flooding with others must still get through.
func limited(op string) bool {
	switch op {
	case protocol.OpPing, protocol.OpRenew, protocol.OpLogout:
		return false
	}
	return true
}

// replyErr replies with err when it carries a code, else logs it and replies
// with an internal error.
func (g *Gateway) replyErr(c *Conn, id uint64, what string, err error) {
	if _, ok := errors.AsType[*imkit.Error](err); !ok {
		g.log.Error(what, "user", c.Session().UserID, "err", err)
		err = imkit.Errorf(imkit.ErrSvrInternal, "%s failed", what)
	}
	c.ReplyError(id, err)
}

// ReplyErr is replyErr for handlers in other packages.
func (c *Conn) ReplyErr(id uint64, what string, err error) { c.gw.replyErr(c, id, what, err) }

// endConn unregisters a connection whose read loop ended, and returns the
// close code the server sent (0 when the client or the network ended it).
func (g *Gateway) endConn(c *Conn) (store.Session, int) {
	c.mu.Lock()
	sess, code := c.sess, c.closeCode
	c.closing = true
	c.stopTimersLocked()
	c.mu.Unlock()
	g.hub.remove(c, sess)
	if g.presence != nil && sess.ID != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		g.presence.Offline(ctx, sess, c.id)
		cancel()
	}
	c.shut()
	c.rd.release()
	return sess, code
}

// Shutdown closes every connection with CloseServerShutdown (clients
// reconnect and resume elsewhere or after the restart) and waits for them to
// end, or for ctx.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.shutdown = true
	conns := make([]*Conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		c.Close(protocol.CloseServerShutdown)
	}
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.nc.Close()
		}
		return ctx.Err()
	}
}
