package gateway

import (
	"context"
	"io"
	"net"
	"sync"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/ratelimit"
	"github.com/imkit/imkit/internal/session"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/protocol"
)

// Conn is one client connection: a read loop (the goroutine that accepted
// it) and a write loop started on demand, which drains the queue, gathers
// the frames into one write and exits when the queue is empty, so an idle
// connection has one goroutine and no buffers.
type Conn struct {
	gw     *Gateway
	id     uint64           // unique on this node
	nc     net.Conn         // the socket, after the WebSocket upgrade
	rd     *wsReader        // only the read loop uses rd and bad
	bad    int              // undecodable frames received
	peerCl bool             // the client's close frame was read; only the read loop uses it
	limit  ratelimit.Bucket // requests; only the read loop uses it
	corker corker           // nil when the listener cannot cork
	remote string           // the client's address (see Gateway.clientIP)
	ctx    context.Context  // canceled when the connection ends
	cancel context.CancelFunc

	mu        sync.Mutex // guards the fields below
	queue     []outFrame
	queued    int           // bytes in queue
	writing   bool          // a write loop runs
	closing   bool          // a close is queued or done; nothing more is accepted
	closeCode int           // the close code queued by the server, if any
	wdone     chan struct{} // made when a close is queued; closed when the write loop is done with it
	sess      store.Session
	loggedIn  bool
	ready     bool        // logged in: pushes are delivered
	replied   bool        // the login reply is queued; kicks may follow it
	heldKick  *store.Kick // a kick that came before the login reply
	ticket    *time.Timer // pushes PushExpiring, then (re-armed) ends the session
	ticketGen uint64      // which arming of ticket is current
	warned    bool        // PushExpiring was sent for the current arming
	expireAt  time.Time   // when the current ticket runs out

	ticketMu sync.Mutex // serialises renewals and the expiry of the session
}

type outFrame struct {
	data      []byte
	op        byte // opText, or opPong for a pong whose payload is data
	closeCode int  // non-zero: write a close frame with this code, then close
}

func newConn(gw *Gateway, nc net.Conn, remote string) *Conn {
	c := &Conn{gw: gw, id: gw.nextConn.Add(1), nc: nc, rd: newWSReader(nc, protocol.MaxFrameSize), remote: remote}
	c.corker, _ = nc.(corker)
	c.ctx, c.cancel = context.WithCancel(session.WithClientIP(context.Background(), remote))
	return c
}

// Session returns the connection's session (zero before login).
func (c *Conn) Session() store.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// ID is the connection's ID, unique on this node (as in Registration).
func (c *Conn) ID() uint64 { return c.id }

// Context is canceled when the connection ends.
func (c *Conn) Context() context.Context { return c.ctx }

// Send queues an encoded frame. It never blocks: when the client is so slow
// that its queue exceeds the limit, the connection is closed with
// CloseSlowConsumer (the client resyncs after reconnecting). It reports
// whether the frame was queued.
func (c *Conn) Send(frame []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sendLocked(frame)
}

func (c *Conn) sendLocked(frame []byte) bool {
	if c.closing {
		return false
	}
	if c.queued+len(frame) > c.gw.maxQueue {
		c.gw.log.Info("slow consumer", "user", c.sess.UserID, "session", c.sess.ID, "queued", c.queued)
		c.queue, c.queued = nil, 0
		c.closeLocked(protocol.CloseSlowConsumer)
		return false
	}
	c.queue = append(c.queue, outFrame{data: frame, op: opText})
	c.queued += len(frame)
	c.startWriterLocked()
	return true
}

// Reply queues the reply to request id with payload v (nil for none).
func (c *Conn) Reply(id uint64, v any) {
	b, err := protocol.AppendReply(nil, id, 0, "", v)
	if err != nil {
		c.gw.log.Error("encode reply", "err", err)
		c.ReplyError(id, err)
		return
	}
	c.Send(b)
}

// ReplyError queues an error reply to request id.
func (c *Conn) ReplyError(id uint64, err error) {
	c.Send(protocol.AppendError(nil, id, err))
}

// Push queues a push frame.
func (c *Conn) Push(op string, v any) {
	b, err := protocol.AppendPush(nil, op, v)
	if err != nil {
		c.gw.log.Error("encode push", "op", op, "err", err)
		return
	}
	c.Send(b)
}

// Close queues a close frame with code after what is already queued; the
// connection ends once it is written (or after the write timeout).
func (c *Conn) Close(code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code)
}

func (c *Conn) closeLocked(code int) {
	if c.closeQueueLocked(code) {
		c.closeCode = code
	}
}

// closeEcho answers the client's close frame with its code: the client
// ended the connection, not the server.
func (c *Conn) closeEcho(code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeQueueLocked(code)
}

// closeQueueLocked queues a close frame, unless one is queued already, and
// reports whether it did.
func (c *Conn) closeQueueLocked(code int) bool {
	if c.closing {
		return false
	}
	c.closing = true
	c.stopTimersLocked()
	c.wdone = make(chan struct{})
	c.queue = append(c.queue, outFrame{closeCode: code})
	c.startWriterLocked()
	// A writer stuck on a dead peer is cut off by its write deadline; this
	// bounds the wait for one that has not started writing yet.
	time.AfterFunc(c.gw.writeTimeout, func() { c.nc.Close() })
	return true
}

func (c *Conn) startWriterLocked() {
	if !c.writing {
		c.writing = true
		go c.writeLoop()
	}
}

func (c *Conn) writeLoop() {
	for {
		c.mu.Lock()
		q := c.queue
		c.queue, c.queued = nil, 0
		if len(q) == 0 {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()

		c.nc.SetWriteDeadline(time.Now().Add(c.gw.writeTimeout))
		if c.corker != nil {
			c.corker.cork()
		}
		var err error
		closeCode := 0
		var hdr [16]byte
		for _, f := range q {
			if f.closeCode != 0 {
				closeCode = f.closeCode
				break
			}
			// Header and payload go to the cork buffer: one write for all.
			if _, err = c.nc.Write(appendHeader(hdr[:0], f.op, len(f.data))); err == nil {
				_, err = c.nc.Write(f.data)
			}
			if err != nil {
				break
			}
		}
		if closeCode != 0 && err == nil {
			_, err = c.nc.Write(appendClose(hdr[:0], closeCode, protocol.CloseText(closeCode)))
		}
		if c.corker != nil {
			if uerr := c.corker.uncork(); err == nil {
				err = uerr
			}
		}
		if closeCode != 0 || err != nil {
			// writing stays true: no other write loop may start on a
			// closing connection.
			c.mu.Lock()
			c.closing = true
			c.queue, c.queued = nil, 0
			done := c.wdone
			c.mu.Unlock()
			if err == nil {
				// The close frame is out: end our side (FIN) and let the
				// client answer; the read loop closes the socket (shut),
				// or this does when the client does not answer.
				halfClose(c.nc)
				time.AfterFunc(lingerTimeout, func() { c.nc.Close() })
			} else {
				c.nc.Close() // ends the read loop, which cleans up
			}
			if done != nil {
				close(done)
			}
			return
		}
	}
}

// lingerTimeout bounds how long a connection is kept, once the server's
// close frame is written, for the client to answer it and close its side.
const lingerTimeout = 2 * time.Second

// halfClose ends the sending side of the socket (a FIN after the close
// frame), or closes it when it cannot.
func halfClose(nc net.Conn) {
	if cc, ok := nc.(*corkConn); ok {
		nc = cc.Conn
	}
	if hc, ok := nc.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
		return
	}
	nc.Close()
}

// shut closes the socket of a connection whose read loop (or login) ended,
// after the close frame queued, if any, is written. Closing a socket with
// unread bytes from the client resets the connection, and the client loses
// the close frame still on its way: so unless the client's own close frame
// was read, what the client still sends is read and dropped until it closes
// its side, or lingerTimeout. Only the read loop calls it.
func (c *Conn) shut() {
	c.mu.Lock()
	c.closing = true
	done := c.wdone
	c.mu.Unlock()
	if done != nil {
		<-done // bounded by the write timeout
		if !c.peerCl {
			c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
			io.Copy(io.Discard, c.nc)
		}
	}
	c.nc.Close()
}

// isClosing reports whether the connection is closing: frames read then
// are no longer carried out.
func (c *Conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// pong queues the answer to a client's WebSocket ping.
func (c *Conn) pong(payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.queue = append(c.queue, outFrame{data: append([]byte(nil), payload...), op: opPong})
	c.startWriterLocked()
}

// readFrame reads the next frame. A frame that cannot be decoded returns an
// *imkit.Error (the connection goes on); a failed read or a violation of
// the WebSocket protocol returns another error (the connection is over).
// WebSocket pings are answered and pongs ignored on the way.
func (c *Conn) readFrame() (protocol.Frame, error) {
	for {
		op, p, err := c.rd.message()
		if err != nil {
			if we, ok := err.(*wsError); ok {
				c.Close(we.code)
			}
			return protocol.Frame{}, err
		}
		switch op {
		case opPing:
			c.pong(p)
			c.rd.done()
		case opPong:
			c.rd.done()
		case opClose:
			code, err := closePayload(p)
			c.rd.done()
			if err != nil {
				c.Close(err.(*wsError).code)
				return protocol.Frame{}, err
			}
			if code == 1005 {
				code = protocol.CloseNormal
			}
			c.peerCl = true
			c.closeEcho(code) // the closing handshake
			return protocol.Frame{}, errPeerClosed
		case opBinary:
			c.rd.done()
			return protocol.Frame{}, imkit.Errorf(imkit.ErrInvalidJSON, "binary messages are not frames; send JSON text")
		default:
			f, err := protocol.DecodeFrame(p)
			c.rd.done()
			return f, err
		}
	}
}

// setTimersLocked (re)arms the ticket timers of a logged-in connection:
// PushExpiring a lead time before the ticket runs out, and the end of the
// session when it does. A ticket with less than the lead time left is
// warned about half-way through what is left: soon, but never in a loop
// when the renewed ticket is as short (each renewal re-arms the timers).
func (c *Conn) setTimersLocked(now time.Time) {
	c.stopTimersLocked()
	if c.closing || !c.loggedIn {
		return
	}
	// Valid up to and including TicketExpire; a ticket valid for ever
	// (TicketExpire up to MaxInt64) is taken as valid for a century, which
	// time.Time and time.Duration hold.
	exp := min(c.sess.TicketExpire, now.Unix()+maxTicketSeconds)
	c.expireAt = time.Unix(exp, 0).Add(time.Second)
	left := max(c.expireAt.Sub(now), 0)
	warnIn := left - c.gw.expiryLead
	if warnIn < 0 {
		warnIn = left / 2
	}
	c.ticketGen++
	gen := c.ticketGen
	c.warned = false
	// One timer per connection: it fires to warn, then is re-armed to end
	// the session.
	c.ticket = time.AfterFunc(warnIn, func() { c.ticketTimer(gen) })
}

// maxTicketSeconds bounds the time a ticket's timers are armed for.
const maxTicketSeconds = 100 * 365 * 24 * 3600

func (c *Conn) stopTimersLocked() {
	if c.ticket != nil {
		c.ticket.Stop()
		c.ticket = nil
	}
}

// ticketTimer runs when the ticket timer of arming gen fires.
func (c *Conn) ticketTimer(gen uint64) {
	c.mu.Lock()
	if gen != c.ticketGen || c.ticket == nil {
		c.mu.Unlock() // re-armed or stopped meanwhile
		return
	}
	if !c.warned {
		c.warned = true
		c.ticket.Reset(max(time.Until(c.expireAt), 0))
		c.mu.Unlock()
		c.warnExpiry()
		return
	}
	c.mu.Unlock()
	c.expireSession()
}

func (c *Conn) warnExpiry() {
	sess := c.Session()
	c.Push(protocol.PushExpiring, protocol.Expiring{TicketExpire: sess.TicketExpire})
}

func (c *Conn) expireSession() {
	c.ticketMu.Lock()
	defer c.ticketMu.Unlock()
	c.mu.Lock()
	sess := c.sess
	if c.closing || c.gw.sessions.Now().Unix() <= sess.TicketExpire {
		// Renewed meanwhile (the timer fired before being stopped), or closing.
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if err := c.gw.sessions.Expire(c.ctx, sess); err != nil {
		c.gw.log.Error("expire session", "session", sess.ID, "err", err)
	}
	c.Close(protocol.CloseTicketExpired)
}
