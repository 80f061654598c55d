package imkittest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a fault-injecting TCP proxy for tests: point an SDK at
// Proxy.URL instead of the server's URL, and the test can cut, reset,
// blackhole, pause and slow down the network between them, for the links
// open now and for the connections to come. It keeps working across
// Server.Restart, which reuses the server's address.
//
// The faults model what networks do:
//   - Drop: both peers see the connection closed (FIN), as when a NAT or a
//     load balancer gives up on it;
//   - Reset: both peers see a reset (RST);
//   - Blackhole: the links open now go silent in both directions, nothing
//     is closed: each peer sees a half-open connection whose writes succeed
//     and whose reads never return, as when a phone leaves the Wi-Fi; only
//     heartbeats find it;
//   - SetMode(Refuse): new connections are reset at once (the server is
//     down); SetMode(Swallow): they are accepted and swallowed (a route that
//     drops packets);
//   - Pause and Resume: bytes are held, not lost, until Resume (a stall);
//   - SetDelay: every chunk of bytes arrives later (a slow link).
type Proxy struct {
	t  testing.TB
	ln net.Listener

	mu     sync.Mutex // guards the fields below
	target string
	links  map[*link]struct{}
	mode   Mode
	delay  time.Duration
	paused chan struct{} // non-nil while paused; closed by Resume
	closed bool
	wg     sync.WaitGroup // the accept loop and the pumps
}

// Mode is what the proxy does with new connections.
type Mode int

// Modes.
const (
	// Pass connects new connections to the target and passes their bytes.
	Pass Mode = iota
	// Refuse resets new connections at once, as a host with nothing
	// listening does.
	Refuse
	// Swallow accepts new connections and passes nothing either way.
	Swallow
)

// link is one proxied connection. server is nil for a swallowed one.
type link struct {
	client, server net.Conn
	mu             sync.Mutex // guards silent, done
	silent         bool       // blackholed: swallow bytes, propagate nothing
	done           bool
}

// NewProxy starts a proxy to target (host:port) on a free loopback port; it
// stops when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: listen: %v", err)
	}
	p := &Proxy{t: t, ln: ln, target: target, links: make(map[*link]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Proxy starts a proxy to the server; see NewProxy.
func (s *Server) Proxy() *Proxy {
	s.t.Helper()
	return NewProxy(s.t, s.Addr())
}

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns the proxy's base URL, http://127.0.0.1:port, for
// sdk.Config.ServerURL.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// SetTarget points new connections at another server (host:port), as a
// load balancer moving a client to another node.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

// SetMode sets what happens to new connections; links already open are not
// affected.
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
}

// Drop closes every open link, both ways (FIN).
func (p *Proxy) Drop() {
	for _, l := range p.takeLinks() {
		l.close(false)
	}
}

// Reset resets every open link, both ways (RST).
func (p *Proxy) Reset() {
	for _, l := range p.takeLinks() {
		l.close(true)
	}
}

// Blackhole makes every open link silent: from now on its bytes vanish in
// both directions and a close by either peer is not passed on. The peers
// must find out by themselves (heartbeats). The links stay silent until the
// proxy closes.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		l.mu.Lock()
		l.silent = true
		l.mu.Unlock()
	}
}

// Offline is Blackhole and SetMode(Swallow): the network is gone, without a
// word to either side.
func (p *Proxy) Offline() {
	p.SetMode(Swallow)
	p.Blackhole()
}

// Online is SetMode(Pass): new connections get through again. Links cut
// before stay cut.
func (p *Proxy) Online() { p.SetMode(Pass) }

// Pause holds every byte on every link, open or new, until Resume; nothing
// is lost.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused == nil {
		p.paused = make(chan struct{})
	}
}

// Resume lets held bytes through.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused != nil {
		close(p.paused)
		p.paused = nil
	}
}

// SetDelay delays every chunk of bytes by d, both ways (0: no delay).
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Links returns how many links are open and passing bytes.
func (p *Proxy) Links() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for l := range p.links {
		l.mu.Lock()
		if !l.silent && l.server != nil {
			n++
		}
		l.mu.Unlock()
	}
	return n
}

// Close stops the proxy and closes every link; it is called when the test
// ends.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	if p.paused != nil {
		close(p.paused)
		p.paused = nil
	}
	p.mu.Unlock()
	p.ln.Close()
	for _, l := range p.takeLinks() {
		l.close(false)
	}
	p.wg.Wait()
}

func (p *Proxy) takeLinks() []*link {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*link, 0, len(p.links))
	for l := range p.links {
		out = append(out, l)
		delete(p.links, l)
	}
	return out
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode, closed := p.mode, p.closed
		p.mu.Unlock()
		if closed {
			c.Close()
			return
		}
		switch mode {
		case Refuse:
			reset(c)
		case Swallow:
			l := &link{client: c, silent: true}
			if p.add(l) {
				p.wg.Add(1)
				go p.pump(l, nil, c)
			}
		default:
			p.wg.Add(1)
			go p.connect(c)
		}
	}
}

// connect dials the target for a new client connection and starts passing
// bytes; when the target does not answer, the client is reset, as a
// gateway does.
func (p *Proxy) connect(c net.Conn) {
	defer p.wg.Done()
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	s, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		reset(c)
		return
	}
	l := &link{client: c, server: s}
	if !p.add(l) {
		return
	}
	p.wg.Add(2)
	go p.pump(l, s, c)
	go p.pump(l, c, s)
}

func (p *Proxy) add(l *link) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		l.close(false)
		return false
	}
	p.links[l] = struct{}{}
	return true
}

func (p *Proxy) remove(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// pump copies from src to dst (nil: swallow) until src fails, applying the
// faults in force.
func (p *Proxy) pump(l *link, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			paused, delay := p.paused, p.delay
			p.mu.Unlock()
			if paused != nil {
				<-paused
			}
			if delay > 0 {
				time.Sleep(delay)
			}
			if dst != nil && !l.isSilent() {
				if _, werr := dst.Write(buf[:n]); werr != nil && !l.isSilent() {
					p.remove(l)
					l.close(false)
					return
				}
			}
		}
		if err != nil {
			if l.isSilent() {
				// A blackholed peer's close goes nowhere; the other side
				// stays open until the proxy closes.
				return
			}
			p.remove(l)
			l.close(false)
			return
		}
	}
}

func (l *link) isSilent() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.silent
}

// close closes both sides once, with a reset when rst is set.
func (l *link) close(rst bool) {
	l.mu.Lock()
	if l.done {
		l.mu.Unlock()
		return
	}
	l.done = true
	l.mu.Unlock()
	for _, c := range []net.Conn{l.client, l.server} {
		if c == nil {
			continue
		}
		if rst {
			reset(c)
		} else {
			c.Close()
		}
	}
}

// reset closes c with an RST rather than a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
