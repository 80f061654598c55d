// Package connlimit limits the connections a listener keeps open from each
// client address, so that one client cannot take every file descriptor of
// the server (with slow requests, or idle connections). A connection over
// the limit is closed as soon as it is accepted, before anything is read.
package connlimit

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
)

// Listener wraps a listener with a limit of open connections per client
// address.
type Listener struct {
	net.Listener
	max    int
	exempt []netip.Prefix
	log    *slog.Logger

	mu   sync.Mutex // guards open
	open map[netip.Addr]*count
}

type count struct {
	n      int
	warned bool // a refusal was logged since the address was last under the limit
}

// New returns l limited to max open connections from each address, but for
// addresses in exempt (load balancers, whose connections carry many
// clients). log, when not nil, is told when an address reaches the limit.
func New(l net.Listener, max int, exempt []netip.Prefix, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: l, max: max, exempt: exempt, log: log, open: make(map[netip.Addr]*count)}
}

// Accept returns the next connection within the limit; those over it are
// closed at once.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			return c, nil
		}
		addr := ap.Addr().Unmap()
		if l.isExempt(addr) {
			return c, nil
		}
		if !l.take(addr) {
			c.Close()
			continue
		}
		release := func() { l.release(addr) }
		if tc, ok := c.(*net.TCPConn); ok {
			// *net.TCPConn stays visible: its socket (SyscallConn) and
			// CloseWrite are used by the WebSocket gateway.
			return &tcpConn{TCPConn: tc, release: release}, nil
		}
		return &conn{Conn: c, release: release}, nil
	}
}

func (l *Listener) isExempt(a netip.Addr) bool {
	for _, p := range l.exempt {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (l *Listener) take(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.open[a]
	if c == nil {
		c = &count{}
		l.open[a] = c
	}
	if c.n >= l.max {
		if !c.warned {
			c.warned = true
			l.log.Warn("connections refused: too many from one address", "client_ip", a.String(), "max", l.max)
		}
		return false
	}
	c.n++
	return true
}

func (l *Listener) release(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.open[a]
	if c == nil {
		return
	}
	if c.n--; c.n <= 0 {
		delete(l.open, a)
	} else if c.n < l.max {
		c.warned = false
	}
}

// Open returns the number of open connections from addr that count
// against the limit.
func (l *Listener) Open(addr netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.open[addr]; c != nil {
		return c.n
	}
	return 0
}

type tcpConn struct {
	*net.TCPConn
	once    sync.Once
	release func()
}

func (c *tcpConn) Close() error {
	err := c.TCPConn.Close()
	c.once.Do(c.release)
	return err
}

type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
