// Package bench is imkit's load generator: a minimal client of the wire
// protocol (package protocol), written on gorilla/websocket directly so that
// the client costs as little CPU and memory as it can beside the server it
// measures on the same machine, and the measurements built on it:
//
//   - Login: concurrent clients doing full logins (connect, upgrade, login
//     frame, reply), in rounds; logins per second and login latency.
//   - Hold: many idle logged-in sessions, kept alive with pings, for
//     measuring the server's memory per session.
//   - Msg: users online sending C2C messages at saturation or at a fixed
//     rate; messages acknowledged (stored) and delivered per second, and the
//     latency sender -> receiver, measured in one process on one clock.
//
// The client is not the SDK: it does not reconnect, resume, sync or cache.
// cmd/imkit's "bench" command wires these to a server it starts or is given.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/protocol"
	"github.com/imkit/imkit/usersig"
)

// Target is the server under test and the app the clients log in to.
type Target struct {
	// URL is the WebSocket endpoint, ws://host:port/ws.
	URL      string
	SDKAppID uint64
	// Key is the app's secret key; the clients sign their own tickets.
	Key string
}

// WSURL turns a server address given as host:port, http://host:port or
// ws://host:port[/ws] into the WebSocket endpoint's URL.
func WSURL(s string) string {
	s = strings.TrimSuffix(s, "/")
	switch {
	case strings.HasPrefix(s, "http://"):
		s = "ws://" + strings.TrimPrefix(s, "http://")
	case strings.HasPrefix(s, "https://"):
		s = "wss://" + strings.TrimPrefix(s, "https://")
	case !strings.HasPrefix(s, "ws://") && !strings.HasPrefix(s, "wss://"):
		s = "ws://" + s
	}
	if !strings.HasSuffix(s, protocol.Path) {
		s += protocol.Path
	}
	return s
}

// Dialer opens client connections. Its zero value dials from any local
// address.
type Dialer struct {
	// Sources are the local addresses connections are made from, used in
	// turn; empty lets the system choose. Each source address has its own
	// range of ephemeral ports (about 28,000 here), so many connections need
	// several: 127.0.0.2, 127.0.0.3, ... all reach a server on 127.0.0.1.
	Sources []net.IP
	// Timeout bounds the TCP connect and the WebSocket handshake (default
	// 10s).
	Timeout time.Duration

	next atomic.Uint64
	once sync.Once
	ws   websocket.Dialer
}

// LoopbackSources returns n source addresses 127.0.0.2, 127.0.0.3, ...
func LoopbackSources(n int) []net.IP {
	out := make([]net.IP, 0, n)
	for i := range n {
		out = append(out, net.IPv4(127, 0, byte((2+i)>>8), byte((2+i)&0xff)))
	}
	return out
}

func (d *Dialer) init() {
	d.once.Do(func() {
		if d.Timeout <= 0 {
			d.Timeout = 10 * time.Second
		}
		d.ws = websocket.Dialer{
			NetDialContext:   d.netDial,
			HandshakeTimeout: d.Timeout,
			// Frames here are small; larger ones are read in pieces.
			ReadBufferSize:  1024,
			WriteBufferSize: 1024,
		}
	})
}

func (d *Dialer) netDial(ctx context.Context, network, addr string) (net.Conn, error) {
	// No TCP keep-alives: they cost system calls per connection, and the
	// protocol has heartbeats.
	nd := net.Dialer{Timeout: d.Timeout, KeepAlive: -1}
	if n := len(d.Sources); n > 0 {
		nd.LocalAddr = &net.TCPAddr{IP: d.Sources[int(d.next.Add(1)%uint64(n))]}
	}
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	// Closing resets the connection instead of leaving it in TIME_WAIT for a
	// minute: a login benchmark opens thousands per second, and the ports of
	// a source address would run out.
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	return c, nil
}

// Dial opens a WebSocket to url.
func (d *Dialer) Dial(ctx context.Context, url string) (*websocket.Conn, error) {
	d.init()
	ws, resp, err := d.ws.DialContext(ctx, url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(protocol.MaxFrameSize)
	return ws, nil
}

// LoginFrame signs a ticket for user (valid for a day) and returns the
// encoded login request, the first frame of a connection. Frames can be
// made ahead of time, so that signing does not count in a measurement.
func LoginFrame(t Target, user, instance string, platform imkit.Platform) ([]byte, error) {
	sig, err := usersig.Sign(t.SDKAppID, t.Key, user, 24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("sign a ticket for %s: %w", user, err)
	}
	return protocol.AppendRequest(nil, 1, protocol.OpLogin, protocol.LoginRequest{
		SDKAppID:   t.SDKAppID,
		UserID:     user,
		UserSig:    sig,
		Platform:   platform,
		InstanceID: instance,
		SDKVersion: "imkit-bench",
	})
}

// Conn is a logged-in client connection.
type Conn struct {
	WS    *websocket.Conn
	User  string
	Reply protocol.LoginReply

	wmu sync.Mutex // serialises writes
}

// Login connects to t.URL and logs in with a frame from LoginFrame: the full
// login round trip. A refused login is an *imkit.Error.
func (d *Dialer) Login(ctx context.Context, url, user string, loginFrame []byte) (*Conn, error) {
	ws, err := d.Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	c := &Conn{WS: ws, User: user}
	if err := c.login(ctx, loginFrame); err != nil {
		ws.Close()
		return nil, err
	}
	return c, nil
}

func (c *Conn) login(ctx context.Context, frame []byte) error {
	deadline := time.Now().Add(protocol.LoginTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.WS.SetWriteDeadline(deadline)
	c.WS.SetReadDeadline(deadline)
	defer c.WS.SetWriteDeadline(time.Time{})
	defer c.WS.SetReadDeadline(time.Time{})
	if err := c.WS.WriteMessage(websocket.TextMessage, frame); err != nil {
		return fmt.Errorf("send login: %w", err)
	}
	_, b, err := c.WS.ReadMessage()
	if err != nil {
		return fmt.Errorf("read login reply: %w", err)
	}
	f, err := protocol.DecodeFrame(b)
	if err != nil {
		return fmt.Errorf("login reply: %w", err)
	}
	if f.ID != 1 {
		return fmt.Errorf("login reply: got %s, want the reply to request 1", b)
	}
	if err := f.Err(); err != nil {
		return err
	}
	return protocol.DecodeData(f.Data, &c.Reply)
}

// Write sends one frame; it may be called from several goroutines.
func (c *Conn) Write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.WS.WriteMessage(websocket.TextMessage, frame)
}

// Close drops the connection at once (a TCP reset, no close handshake).
func (c *Conn) Close() error { return c.WS.Close() }

// readInto reads the next message into buf, reusing its memory.
func readInto(ws *websocket.Conn, buf *bytes.Buffer) error {
	_, r, err := ws.NextReader()
	if err != nil {
		return err
	}
	buf.Reset()
	_, err = buf.ReadFrom(r)
	return err
}

// closedErr reports whether err is the end of a connection rather than a
// failure worth telling.
func closedErr(err error) bool {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return true
	}
	if _, ok := errors.AsType[*websocket.CloseError](err); ok {
		return true
	}
	return false
}

// Users returns n user IDs with a prefix: prefix0, prefix1, ...
func Users(prefix string, first, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, first+i)
	}
	return out
}

// Request sends a request frame; its reply comes through ReadFrame.
func (c *Conn) Request(id uint64, op string, data any) error {
	b, err := protocol.AppendRequest(nil, id, op, data)
	if err != nil {
		return err
	}
	return c.Write(b)
}

// ReadFrame reads and decodes the next frame. Use it only on connections
// that nothing else reads.
func (c *Conn) ReadFrame() (protocol.Frame, error) {
	_, b, err := c.WS.ReadMessage()
	if err != nil {
		return protocol.Frame{}, err
	}
	return protocol.DecodeFrame(b)
}
