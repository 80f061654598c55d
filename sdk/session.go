package sdk

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/protocol"
)

// session is one login of a user on this instance: it spans reconnects
// until logout, a kick or expiry.
type session struct {
	sdk    *SDK
	userID string
	ctx    context.Context // ends with the session
	cancel context.CancelFunc

	mu      sync.Mutex    // guards the fields below
	sig     string        // the current ticket (renewed ones replace it)
	expire  time.Time     // when sig runs out, by this machine's clock
	skew    time.Duration // the server's clock minus this machine's
	id      string        // the server's session ID
	conn    *conn         // the live connection; nil while reconnecting
	changed chan struct{} // closed (and replaced) whenever conn changes
	beat    time.Duration // ping interval

	outbox  map[string]int // client message IDs being sent (guarded by mu)
	fillTo  uint64         // the mailbox seq a fill fetches up to (guarded by mu)
	filling bool           // a fill runs (guarded by mu)

	renewing atomic.Bool // a renewal runs
	syncMu   sync.Mutex  // one sync or fill at a time
	takeMu   sync.Mutex  // one take at a time: the app hears of messages in order
	wg       sync.WaitGroup
}

func newSession(s *SDK, userID, sig string) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{sdk: s, userID: userID, sig: sig, ctx: ctx, cancel: cancel, changed: make(chan struct{})}
}

// connect dials and logs in (resumes sessionID when it is set). It reports
// OnConnecting, then OnConnectSuccess or OnConnectFailed.
func (ss *session) connect(ctx context.Context, sessionID string) (*conn, *protocol.LoginReply, error) {
	s := ss.sdk
	l := s.cfg.Listener
	s.emit(l.OnConnecting)
	c, reply, err := ss.dialLogin(ctx, sessionID)
	if err != nil {
		if f := l.OnConnectFailed; f != nil {
			code, msg := imkit.ErrorCode(err), imkit.ErrorMessage(err)
			s.ev.post(func() { f(code, msg) })
		}
		return nil, nil, err
	}
	s.emit(l.OnConnectSuccess)
	return c, reply, nil
}

func (ss *session) dialLogin(ctx context.Context, sessionID string) (*conn, *protocol.LoginReply, error) {
	s := ss.sdk
	// Each server once, from the one in use, until one answers.
	url, i := s.server()
	c, err := dial(ctx, s.dialer, url, ss.onPush)
	for tries := 1; err != nil && tries < len(s.urls) && ctx.Err() == nil; tries++ {
		s.nextServer(i)
		url, i = s.server()
		c, err = dial(ctx, s.dialer, url, ss.onPush)
	}
	if err != nil {
		s.nextServer(i)
		return nil, nil, err
	}
	c.server = i
	ss.mu.Lock()
	req := protocol.LoginRequest{
		SDKAppID:   s.appID,
		UserID:     ss.userID,
		UserSig:    ss.sig,
		Platform:   s.cfg.Platform,
		InstanceID: s.cfg.InstanceID,
		SessionID:  sessionID,
		SDKVersion: Version,
	}
	ss.mu.Unlock()
	var reply protocol.LoginReply
	f, err := c.roundTrip(ctx, protocol.OpLogin, &req, &reply)
	if err != nil {
		c.close()
		if imkit.ErrorCode(err) == imkit.ErrKickedOffByOther {
			var k protocol.Kick
			protocol.DecodeData(f.Data, &k)
			return nil, nil, &kickedError{err: err, kick: kickInfo(&k)}
		}
		return nil, nil, err
	}
	return c, &reply, nil
}

// kickedError is a refused resume of a kicked session, with the kick.
type kickedError struct {
	err  error
	kick KickInfo
}

func (e *kickedError) Error() string { return e.err.Error() }
func (e *kickedError) Unwrap() error { return e.err }

func kickInfo(k *protocol.Kick) KickInfo {
	if k == nil {
		return KickInfo{}
	}
	return KickInfo{Reason: k.Reason, Platform: k.Platform, Time: time.UnixMilli(k.Time)}
}

// start runs a logged-in session on its first connection.
func (ss *session) start(c *conn, reply *protocol.LoginReply) {
	ss.attach(c, reply)
	ss.wg.Add(1)
	go ss.run(c)
}

// attach makes c the live connection and starts its heartbeat and a sync.
func (ss *session) attach(c *conn, reply *protocol.LoginReply) {
	beat := time.Duration(reply.Heartbeat) * time.Millisecond
	if ss.sdk.cfg.Heartbeat > 0 {
		beat = ss.sdk.cfg.Heartbeat
	}
	if beat <= 0 {
		beat = 30 * time.Second
	}
	ss.mu.Lock()
	ss.id = reply.SessionID
	ss.conn = c
	ss.beat = beat
	if reply.ServerTime != 0 {
		ss.skew = time.Duration(reply.ServerTime-time.Now().UnixMilli()) * time.Millisecond
	}
	ss.setExpireLocked(reply.TicketExpire)
	close(ss.changed)
	ss.changed = make(chan struct{})
	ss.mu.Unlock()
	go c.heartbeat(beat, beat*5/2)
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		ss.sync(c, reply.MaxSeq)
	}()
}

// setExpireLocked records the ticket's expiry, given by the server in Unix
// seconds (valid up to and including that second).
func (ss *session) setExpireLocked(unix int64) {
	if unix != 0 {
		ss.expire = time.Unix(unix+1, 0).Add(-ss.skew)
	}
}

// run watches the live connection; when it drops, it reconnects and
// resumes, or ends the session if the server ended it.
func (ss *session) run(c *conn) {
	defer ss.wg.Done()
	for {
		select {
		case <-c.done:
		case <-ss.ctx.Done():
			c.close()
			return
		}
		ss.mu.Lock()
		ss.conn = nil
		close(ss.changed)
		ss.changed = make(chan struct{})
		ss.mu.Unlock()
		if ss.ctx.Err() != nil {
			return
		}
		code, kick, _ := c.closed()
		ss.sdk.log.Info("disconnected", "user", ss.userID, "code", code, "reason", protocol.CloseText(code))
		switch {
		case code == protocol.CloseKicked || kick != nil:
			// A kick that arrived without its close frame (the link died
			// right after) is a kick all the same: reconnecting would only
			// be refused.
			ss.sdk.endSession(ss, endedKicked, kickInfo(kick), imkit.ErrKickedOffByOther, "kicked offline")
			return
		case code == protocol.CloseTicketExpired:
			ss.sdk.endSession(ss, endedExpired, KickInfo{}, imkit.ErrUserSigExpired, "ticket expired")
			return
		case !protocol.Reconnect(code):
			ss.sdk.endSession(ss, endedRefused, KickInfo{}, imkit.ErrNetDisconnected,
				"the server closed the connection: "+protocol.CloseText(code))
			return
		}
		// A server that shuts down (or is drained) asks its clients to
		// move: to the next server, at once.
		now := code == protocol.CloseServerShutdown
		if now {
			ss.sdk.nextServer(c.server)
		}
		if c = ss.reconnect(now); c == nil {
			return
		}
	}
}

// reconnect tries to resume the session, with capped, full-jitter
// exponential backoff (the first try at once when now is set), until it
// succeeds (it returns the new connection), the server refuses for good,
// or the session ends (it returns nil).
func (ss *session) reconnect(now bool) *conn {
	cfg := &ss.sdk.cfg
	for try := 0; ; try++ {
		wait := backoff(cfg.ReconnectMin, cfg.ReconnectMax, try)
		if now && try == 0 {
			wait = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ss.ctx.Done():
			t.Stop()
			return nil
		}
		ss.freshTicket()
		ss.mu.Lock()
		id := ss.id
		ss.mu.Unlock()
		ctx, cancel := context.WithTimeout(ss.ctx, cfg.LoginTimeout)
		c, reply, err := ss.connect(ctx, id)
		cancel()
		if ss.ctx.Err() != nil {
			if c != nil {
				c.close()
			}
			return nil
		}
		if err == nil {
			ss.attach(c, reply)
			return c
		}
		if how, final := refusal(err); final {
			var kick KickInfo
			if ke, ok := err.(*kickedError); ok {
				kick = ke.kick
			} else if imkit.ErrorCode(err) == imkit.ErrSvrInvalidUserSig {
				kick = KickInfo{Reason: imkit.KickAdmin}
			}
			code := imkit.ErrorCode(err)
			if how == endedRefused {
				code = imkit.OK // connect reported OnConnectFailed already
			}
			ss.sdk.endSession(ss, how, kick, code, imkit.ErrorMessage(err))
			return nil
		}
		ss.sdk.log.Info("reconnect failed", "user", ss.userID, "try", try, "code", imkit.ErrorCode(err), "err", imkit.ErrorMessage(err))
	}
}

// backoff returns how long to wait before try number try (from 0): a random
// duration up to min·2^try, capped at max (full jitter).
func backoff(min, max time.Duration, try int) time.Duration {
	ceiling := max
	if try < 30 && min<<try < ceiling {
		ceiling = min << try
	}
	return rand.N(ceiling + 1)
}

// refusal says whether a failed resume ends the session for good, and how:
// kicked (6208, or 70052: an admin revoked the user's tickets), expired
// (70001), or refused otherwise (the ticket no longer opens the session:
// only the app can give a new one). Network errors, timeouts, internal
// errors and rate limits (70050) are worth another try.
func refusal(err error) (how ended, final bool) {
	switch imkit.ErrorCode(err) {
	case imkit.ErrKickedOffByOther, imkit.ErrSvrInvalidUserSig:
		return endedKicked, true
	case imkit.ErrSvrUserSigExpired, imkit.ErrUserSigExpired, imkit.ErrSvrUserSigEmpty,
		imkit.ErrSvrUserSigCheckFailed, imkit.ErrSvrUserSigMismatchKey,
		imkit.ErrSvrUserSigMismatchID, imkit.ErrSvrUserSigMismatchApp:
		return endedExpired, true
	case imkit.ErrSvrSDKAppIDNotFound, imkit.ErrSvrInvalidParameters, imkit.ErrSDKNotLoggedIn:
		return endedRefused, true
	}
	return 0, false
}

// freshTicket asks the UserSigProvider, when there is one, for a new ticket
// if the current one has run out (or is about to) while the SDK was away,
// so that the resume is not refused as expired.
func (ss *session) freshTicket() {
	provider := ss.sdk.cfg.UserSigProvider
	ss.mu.Lock()
	stale := !ss.expire.IsZero() && time.Until(ss.expire) < ticketMargin
	ss.mu.Unlock()
	if provider == nil || !stale {
		return
	}
	ctx, cancel := context.WithTimeout(ss.ctx, ss.sdk.cfg.LoginTimeout)
	defer cancel()
	sig, err := provider(ctx, ss.userID)
	if err != nil || sig == "" {
		ss.sdk.log.Warn("UserSigProvider failed; resuming with the old ticket", "user", ss.userID, "err", err)
		return
	}
	ss.mu.Lock()
	ss.sig = sig
	ss.mu.Unlock()
}

// ticketMargin is how close to its expiry a ticket is replaced before a
// resume: more than the clock error of the expiry the SDK computes.
const ticketMargin = 2 * time.Second

// connected reports whether the session has a live connection.
func (ss *session) connected() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.conn == nil {
		return false
	}
	_, _, done := ss.conn.closed()
	return !done
}

// waitConn returns the live connection, waiting while the SDK reconnects,
// until ctx ends (9520) or the session ends (6014).
func (ss *session) waitConn(ctx context.Context, what string) (*conn, error) {
	for {
		ss.mu.Lock()
		c, changed := ss.conn, ss.changed
		ss.mu.Unlock()
		if c != nil {
			if _, _, done := c.closed(); !done {
				return c, nil
			}
		}
		select {
		case <-changed:
		case <-ss.ctx.Done():
			return nil, imkit.Errorf(imkit.ErrSDKNotLoggedIn, "not logged in")
		case <-ctx.Done():
			return nil, ctxErr(ctx, what)
		}
	}
}

// call sends a request on the live connection and waits for its reply. A
// request the link drops under is sent again on the next connection: every
// request is idempotent.
func (ss *session) call(ctx context.Context, op string, req, reply any) error {
	for {
		c, err := ss.waitConn(ctx, op)
		if err != nil {
			return err
		}
		_, err = c.roundTrip(ctx, op, req, reply)
		if err != errDisconnected {
			return err
		}
		if ss.ctx.Err() != nil {
			return imkit.Errorf(imkit.ErrSDKNotLoggedIn, "not logged in")
		}
	}
}

// onPush handles a push from the server (on the connection's read loop).
func (ss *session) onPush(op string, data json.RawMessage) {
	if ss.ctx.Err() != nil {
		return
	}
	switch op {
	case protocol.PushExpiring:
		go ss.renew()
	case protocol.PushMsg:
		ss.onMessage(data)
	case protocol.PushConvRead:
		ss.onConvRead(data)
	case protocol.PushConvDel:
		var d protocol.ConvDel
		if protocol.DecodeData(data, &d) == nil {
			ss.applyDel(ss.ctx, d.Peer)
		}
	case protocol.PushSync:
		// Pushes may have been lost between the server's nodes: catch up
		// as after a resume.
		ss.mu.Lock()
		conn := ss.conn
		ss.mu.Unlock()
		if conn != nil {
			go ss.sync(conn, 0)
		}
	}
}

// renew asks the app for a fresh ticket and hands it to the server on the
// live connection. Without a provider, or when it fails or gives the same
// ticket, nothing happens and the server ends the session at expiry.
func (ss *session) renew() {
	provider := ss.sdk.cfg.UserSigProvider
	if provider == nil || !ss.renewing.CompareAndSwap(false, true) {
		return
	}
	defer ss.renewing.Store(false)
	ctx, cancel := context.WithTimeout(ss.ctx, 30*time.Second)
	defer cancel()
	sig, err := provider(ctx, ss.userID)
	ss.mu.Lock()
	same := sig == ss.sig
	ss.mu.Unlock()
	if err != nil || sig == "" || same {
		ss.sdk.log.Warn("UserSigProvider gave no new ticket; the session ends at expiry", "user", ss.userID, "err", err)
		return
	}
	var reply protocol.RenewReply
	if err := ss.call(ctx, protocol.OpRenew, &protocol.RenewRequest{UserSig: sig}, &reply); err != nil {
		ss.sdk.log.Warn("renew refused; the session ends at expiry", "user", ss.userID, "code", imkit.ErrorCode(err), "err", imkit.ErrorMessage(err))
		return
	}
	ss.mu.Lock()
	ss.sig = sig
	ss.setExpireLocked(reply.TicketExpire)
	ss.mu.Unlock()
}

// logout ends the session on the server and stops it here. ctx bounds the
// wait for the server (LoginTimeout when it has no deadline): while the SDK
// is reconnecting, it keeps trying to resume just long enough to log out.
// When the server cannot be told in time, it ends the session when the
// ticket runs out.
func (ss *session) logout(ctx context.Context) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ss.sdk.cfg.LoginTimeout)
		defer cancel()
	}
	ss.mu.Lock()
	c, id := ss.conn, ss.id
	ss.mu.Unlock()
	if c != nil {
		_, err := c.roundTrip(ctx, protocol.OpLogout, nil, nil)
		ss.stop()
		if err != errDisconnected {
			return // done, or refused (the session had ended), or out of time
		}
	} else {
		ss.stop()
	}
	if id == "" {
		return
	}
	cfg := &ss.sdk.cfg
	for try := 0; ctx.Err() == nil; try++ {
		c, _, err := ss.dialLogin(ctx, id)
		if err == nil {
			c.roundTrip(ctx, protocol.OpLogout, nil, nil)
			c.close()
			return
		}
		if _, final := refusal(err); final {
			return // the session is over on the server already
		}
		t := time.NewTimer(backoff(cfg.ReconnectMin, min(cfg.ReconnectMax, time.Second), try))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// logoutOn logs out on a connection of a login that was abandoned.
func (ss *session) logoutOn(c *conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.roundTrip(ctx, protocol.OpLogout, nil, nil)
	c.close()
	ss.stop()
}

// stop ends the session here: its loops end and its connection closes.
func (ss *session) stop() {
	ss.cancel()
	ss.mu.Lock()
	c := ss.conn
	ss.mu.Unlock()
	if c != nil {
		c.close()
	}
}
