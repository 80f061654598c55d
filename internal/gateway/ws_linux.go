package gateway

import (
	"io"
	"syscall"
)

// readable is the callback of RawConn.Read: it reads what the socket has
// into a buffer it borrows, and reports true; when the socket has nothing
// yet it gives the buffer back and reports false, and RawConn.Read parks the
// goroutine until the socket turns readable. A failed read is kept in rerr.
func (r *wsReader) readable(fd uintptr) bool {
	if r.buf == nil {
		r.buf = smallBufs.Get().(*[]byte)
		r.r, r.w = 0, 0
	}
	for {
		n, err := syscall.Read(int(fd), (*r.buf)[r.w:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if r.r == r.w {
				r.putBuf()
			}
			return false
		case err != nil:
			r.rerr = err
		case n == 0:
			r.rerr = io.EOF
		default:
			r.w += n
		}
		if r.r == r.w && r.buf != nil {
			r.putBuf()
		}
		return true
	}
}
