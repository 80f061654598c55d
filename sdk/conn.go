package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/protocol"
)

// errDisconnected is a request that the link dropped under; requests are
// idempotent, so the SDK retries it on the next connection.
var errDisconnected = imkit.Errorf(imkit.ErrNetDisconnected, "the connection to the server was lost")

// conn is one WebSocket connection to the server: a read loop that routes
// replies to their requests and pushes to onPush, and a heartbeat.
type conn struct {
	ws       *websocket.Conn
	server   int32 // the index of its server in SDK.urls
	onPush   func(op string, data json.RawMessage)
	lastRecv atomic.Int64 // Unix nanoseconds of the last frame received
	nextID   atomic.Uint64

	wmu sync.Mutex // serialises writes

	mu      sync.Mutex // guards pending, closeCode, kick
	pending map[uint64]chan protocol.Frame
	// Set when the read loop ends, before done is closed.
	closeCode int            // the server's close code; 1006 when none came
	kick      *protocol.Kick // from PushKicked, if one came
	done      chan struct{}  // closed when the read loop ends
}

// dial connects to the server's WebSocket endpoint and starts the read loop.
// It gives up as soon as ctx ends, also in the middle of the handshake.
func dial(ctx context.Context, d *websocket.Dialer, url string, onPush func(string, json.RawMessage)) (*conn, error) {
	// The websocket dialer honours ctx's deadline but not its cancellation
	// once connected: a Logout during a Login waited for the handshake
	// timeout. Close the network connection when ctx ends.
	var (
		mu sync.Mutex
		nc net.Conn
	)
	dd := *d
	dd.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		nc = c
		mu.Unlock()
		if ctx.Err() != nil { // ended just before nc was set
			c.Close()
		}
		return c, nil
	}
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if nc != nil {
			nc.Close()
		}
	})
	ws, resp, err := dd.DialContext(ctx, url, http.Header{})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if !stop() && err == nil { // ctx ended: the connection is closed
		ws.Close()
		err = ctx.Err()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, imkit.Errorf(imkit.ErrNetConnTimeout, "connect to %s: %v", url, ctx.Err())
		}
		return nil, imkit.Errorf(imkit.ErrNetDisconnected, "connect to %s: %v", url, err)
	}
	ws.SetReadLimit(protocol.MaxFrameSize)
	c := &conn{
		ws:      ws,
		onPush:  onPush,
		pending: make(map[uint64]chan protocol.Frame),
		done:    make(chan struct{}),
	}
	c.lastRecv.Store(time.Now().UnixNano())
	go c.readLoop()
	return c, nil
}

func (c *conn) readLoop() {
	code := websocket.CloseAbnormalClosure
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
				code = ce.Code
			}
			break
		}
		c.lastRecv.Store(time.Now().UnixNano())
		f, err := protocol.DecodeFrame(b)
		if err != nil {
			continue // not ours to fix; the request it answers will time out
		}
		switch {
		case f.IsReply():
			c.mu.Lock()
			ch := c.pending[f.ID]
			delete(c.pending, f.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- f
			}
		case f.Op == protocol.PushKicked:
			var k protocol.Kick
			if protocol.DecodeData(f.Data, &k) == nil {
				c.mu.Lock()
				c.kick = &k
				c.mu.Unlock()
			}
		case f.IsPush() && c.onPush != nil:
			c.onPush(f.Op, f.Data)
		}
	}
	c.ws.Close()
	c.mu.Lock()
	c.closeCode = code
	c.pending = nil
	c.mu.Unlock()
	close(c.done)
}

// closed reports how the connection ended; ok is false while it is open.
func (c *conn) closed() (code int, kick *protocol.Kick, ok bool) {
	select {
	case <-c.done:
	default:
		return 0, nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.kick, true
}

// close ends the connection at once; the read loop then ends.
func (c *conn) close() { c.ws.Close() }

// closeWith sends a close frame with code, then ends the connection.
func (c *conn) closeWith(code int) {
	c.wmu.Lock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	c.ws.Close()
}

const writeTimeout = 10 * time.Second

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.ws.Close()
		return errDisconnected
	}
	return nil
}

// roundTrip sends a request and waits for its reply, decoding the payload
// into reply (when not nil). It returns errDisconnected when the link drops
// first, the reply's error, or a timeout when ctx ends.
func (c *conn) roundTrip(ctx context.Context, op string, req, reply any) (protocol.Frame, error) {
	id := c.nextID.Add(1)
	b, err := protocol.AppendRequest(nil, id, op, req)
	if err != nil {
		return protocol.Frame{}, imkit.Errorf(imkit.ErrInvalidParameters, "encode %s: %v", op, err)
	}
	if len(b) > protocol.MaxFrameSize {
		return protocol.Frame{}, imkit.Errorf(imkit.ErrNetPkgSizeLimit, "request is %d bytes, more than %d", len(b), protocol.MaxFrameSize)
	}
	ch := make(chan protocol.Frame, 1)
	c.mu.Lock()
	if c.pending == nil {
		c.mu.Unlock()
		return protocol.Frame{}, errDisconnected
	}
	c.pending[id] = ch
	c.mu.Unlock()
	if err := c.write(b); err != nil {
		return protocol.Frame{}, err
	}
	var f protocol.Frame
	select {
	case f = <-ch:
	case <-c.done:
		// The read loop hands over a reply before it ends: a server that
		// answers and closes (a refused login) must be heard.
		select {
		case f = <-ch:
		default:
			return protocol.Frame{}, errDisconnected
		}
	case <-ctx.Done():
		c.mu.Lock()
		if c.pending != nil {
			delete(c.pending, id)
		}
		c.mu.Unlock()
		return protocol.Frame{}, ctxErr(ctx, op)
	}
	if err := f.Err(); err != nil {
		return f, err
	}
	if reply != nil {
		if err := protocol.DecodeData(f.Data, reply); err != nil {
			return f, imkit.Errorf(imkit.ErrInvalidJSON, "%s reply: %v", op, imkit.ErrorMessage(err))
		}
	}
	return f, nil
}

// ping sends a heartbeat without waiting: any frame received counts as
// life.
func (c *conn) ping() {
	b, _ := protocol.AppendRequest(nil, c.nextID.Add(1), protocol.OpPing, nil)
	c.write(b)
}

// heartbeat pings every interval and closes the connection when nothing has
// been received for deadAfter; it returns when the connection ends.
func (c *conn) heartbeat(interval, deadAfter time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			if now.Sub(time.Unix(0, c.lastRecv.Load())) > deadAfter {
				c.close()
				return
			}
			c.ping()
		}
	}
}

// ctxErr turns an ended context into the SDK's timeout error.
func ctxErr(ctx context.Context, what string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return imkit.Errorf(imkit.ErrNetWaitAckTimeout, "%s: no reply before the deadline", what)
	}
	return imkit.Errorf(imkit.ErrRequestTimeout, "%s: canceled", what)
}
