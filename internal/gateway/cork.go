package gateway

import (
	"net"
	"sync"
)

// corkListener wraps each accepted connection in a corkConn, so that a
// connection's write loop can gather many WebSocket frames into one write
// system call.
type corkListener struct {
	net.Listener
}

// CorkListener returns a listener whose connections can be corked: serve the
// gateway on it to coalesce writes. Without it the gateway still works, one
// write per frame.
func CorkListener(l net.Listener) net.Listener { return corkListener{l} }

func (l corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &corkConn{Conn: c}, nil
}

// corkConn buffers writes between cork and uncork. The buffer is borrowed
// from a pool while corked and returned at uncork, so an idle connection
// holds none. Control frames (pongs, close) may be written from the read
// loop while the write loop has the connection corked, hence the lock.
type corkConn struct {
	net.Conn
	mu  sync.Mutex // guards buf
	buf *[]byte    // non-nil while corked
}

var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxCorked is how much is gathered before it is written anyway.
const maxCorked = 64 << 10

func (c *corkConn) cork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		c.buf = corkBufs.Get().(*[]byte)
	}
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.Conn.Write(p)
	}
	if len(*c.buf)+len(p) > maxCorked {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > maxCorked {
			return c.Conn.Write(p)
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

func (c *corkConn) flushLocked() error {
	if len(*c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
	return err
}

// uncork writes what was gathered and stops gathering.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return nil
	}
	err := c.flushLocked()
	if cap(*c.buf) <= 64<<10 {
		corkBufs.Put(c.buf)
	}
	c.buf = nil
	return err
}

// corker is implemented by connections that can gather writes.
type corker interface {
	cork()
	uncork() error
}

var _ corker = (*corkConn)(nil)
