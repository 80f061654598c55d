package gateway

import "syscall"

// readable reports whether the socket has something to read (data, the
// end of the stream or an error): it is the callback of RawConn.Read, which
// parks the goroutine until the socket turns readable when it says no. It
// must look rather than assume: RawConn.Read forgets a readiness the poller
// saw before the call.
func (r *wsReader) readable(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), r.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n > 0 || err != syscall.EAGAIN
}
