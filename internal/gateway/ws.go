package gateway

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"unicode/utf8"
)

// WebSocket opcodes (RFC 6455, section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Standard close codes this layer uses (RFC 6455, section 7.4.1).
const (
	closeProtocolError = 1002
	closeInvalidData   = 1007
	closeTooBig        = 1009
)

// wsError is a violation of the WebSocket protocol by the peer; the
// connection is closed with code.
type wsError struct {
	code int
	msg  string
}

func (e *wsError) Error() string { return "websocket: " + e.msg }

// wsReader reads the client's side of an upgraded WebSocket connection
// (RFC 6455) straight from the socket. gorilla/websocket does the upgrade;
// framing is done here so that an idle connection holds no read buffer and
// its goroutine parks in a shallow stack: it waits for the socket to become
// readable before it borrows a buffer, and it returns the buffer once every
// byte read is consumed.
type wsReader struct {
	src   io.Reader       // the socket
	raw   syscall.RawConn // for waiting on readability; nil when unavailable
	limit int             // the largest message

	buf  *[]byte // read but unconsumed bytes are (*buf)[r:w]; nil when none
	r, w int
	rerr error // what the read in readable failed with

	ready     func(fd uintptr) bool // r.readable, made once
	msg       []byte                // a fragmented message being assembled
	msgBinary bool
}

func newWSReader(nc net.Conn, limit int) *wsReader {
	inner := nc
	if cc, ok := nc.(*corkConn); ok {
		inner = cc.Conn
	}
	var raw syscall.RawConn
	if sc, ok := inner.(syscall.Conn); ok {
		raw, _ = sc.SyscallConn()
	}
	return newWSReaderFrom(nc, raw, limit)
}

// newWSReaderFrom reads frames from src; raw, when not nil, is src's
// socket, to wait on.
func newWSReaderFrom(src io.Reader, raw syscall.RawConn, limit int) *wsReader {
	r := &wsReader{src: src, raw: raw, limit: limit}
	if raw != nil && runtime.GOOS == "linux" {
		r.ready = r.readable
	}
	return r
}

// Read buffers: most frames are small; a large message borrows a large one.
var (
	smallBufs = sync.Pool{New: func() any { b := make([]byte, 4<<10); return &b }}
	largeBufs = sync.Pool{New: func() any { b := make([]byte, 80<<10); return &b }}
)

// wait reads from the socket into a fresh buffer when nothing is buffered,
// parking until the socket is readable without holding a buffer; the read
// loop calls it first, so that an idle connection parks as few stack
// frames deep as possible (the runtime then shrinks its stack to the
// minimum). Without a way to wait on the socket it does nothing, and need
// reads (holding a buffer while it blocks).
func (r *wsReader) wait() error {
	if r.buf != nil || r.ready == nil {
		return nil
	}
	// The callback (readable) reads; it parks the goroutine, having given
	// the buffer back, when the socket has nothing.
	if err := r.raw.Read(r.ready); err != nil {
		return err
	}
	if err := r.rerr; err != nil {
		r.rerr = nil
		return err
	}
	return nil
}

// need makes sure n unconsumed bytes are buffered.
func (r *wsReader) need(n int) error {
	if r.buf == nil {
		if err := r.wait(); err != nil {
			return err
		}
		if r.buf == nil {
			if n <= 4<<10 {
				r.buf = smallBufs.Get().(*[]byte)
			} else {
				r.buf = largeBufs.Get().(*[]byte)
			}
			r.r, r.w = 0, 0
		}
	}
	if r.w-r.r >= n {
		return nil
	}
	b := *r.buf
	if n > len(b)-r.r {
		if n > len(b) {
			// A message larger than the small buffer: move to a large one.
			nb := largeBufs.Get().(*[]byte)
			copy(*nb, b[r.r:r.w])
			r.putBuf()
			r.buf, b = nb, *nb
		} else {
			copy(b, b[r.r:r.w])
		}
		r.w -= r.r
		r.r = 0
	}
	for r.w-r.r < n {
		m, err := r.src.Read(b[r.w:])
		r.w += m
		if err != nil {
			if err == io.EOF && r.w-r.r > 0 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

func (r *wsReader) putBuf() {
	if len(*r.buf) > 4<<10 {
		largeBufs.Put(r.buf)
	} else {
		smallBufs.Put(r.buf)
	}
	r.buf = nil
}

// consume drops n buffered bytes, returning the buffer when it is empty.
func (r *wsReader) consume(n int) {
	r.r += n
	if r.r == r.w {
		r.putBuf()
	}
}

// release returns the buffer; call it when the connection ends.
func (r *wsReader) release() {
	if r.buf != nil {
		r.putBuf()
	}
	r.msg = nil
}

// frame reads the next frame. Its payload (unmasked) is valid until the
// next call.
func (r *wsReader) frame() (fin bool, op byte, payload []byte, err error) {
	if err := r.need(2); err != nil {
		return false, 0, nil, err
	}
	b := *r.buf
	h0, h1 := b[r.r], b[r.r+1]
	fin, op = h0&0x80 != 0, h0&0x0F
	if h0&0x70 != 0 {
		return false, 0, nil, &wsError{closeProtocolError, "reserved bits set (no extension was agreed)"}
	}
	if h1&0x80 == 0 {
		return false, 0, nil, &wsError{closeProtocolError, "client frame not masked"}
	}
	hlen, n := 6, uint64(h1&0x7F)
	switch n {
	case 126:
		hlen = 8
	case 127:
		hlen = 14
	}
	if err := r.need(hlen); err != nil {
		return false, 0, nil, err
	}
	b = *r.buf
	h := b[r.r : r.r+hlen]
	switch n {
	case 126:
		n = uint64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		n = binary.BigEndian.Uint64(h[2:])
	}
	switch op {
	case opClose, opPing, opPong:
		if !fin || n > 125 {
			return false, 0, nil, &wsError{closeProtocolError, "control frame fragmented or over 125 bytes"}
		}
	case opText, opBinary, opContinuation:
		if n > uint64(r.limit) {
			return false, 0, nil, &wsError{closeTooBig, "frame too big"}
		}
	default:
		return false, 0, nil, &wsError{closeProtocolError, "unknown opcode"}
	}
	var mask [4]byte
	copy(mask[:], h[hlen-4:])
	total := hlen + int(n)
	if err := r.need(total); err != nil {
		return false, 0, nil, err
	}
	b = *r.buf
	payload = b[r.r+hlen : r.r+total]
	for i := range payload {
		payload[i] ^= mask[i&3]
	}
	r.r += total // consumed once the caller is done; see next
	return fin, op, payload, nil
}

// done returns the buffer if the frame just read was the last buffered.
func (r *wsReader) done() {
	if r.buf != nil && r.r == r.w {
		r.putBuf()
	}
}

// message reads the next data message, reassembling fragments. Control
// frames come back one at a time with their opcode (a ping's payload is
// for its pong; a close frame's is its code and reason). A message is
// returned with opText or opBinary; its payload is valid until the next
// call.
func (r *wsReader) message() (op byte, payload []byte, err error) {
	for {
		fin, op, p, err := r.frame()
		if err != nil {
			return 0, nil, err
		}
		switch op {
		case opClose, opPing, opPong:
			return op, p, nil
		case opText, opBinary:
			if r.msg != nil {
				return 0, nil, &wsError{closeProtocolError, "new message inside a fragmented one"}
			}
			if fin {
				return op, p, nil
			}
			r.msg = append(make([]byte, 0, len(p)*2), p...)
			r.msgBinary = op == opBinary
			r.done()
		case opContinuation:
			if r.msg == nil {
				return 0, nil, &wsError{closeProtocolError, "continuation without a message"}
			}
			if len(r.msg)+len(p) > r.limit {
				return 0, nil, &wsError{closeTooBig, "message too big"}
			}
			r.msg = append(r.msg, p...)
			r.done()
			if fin {
				m := r.msg
				r.msg = nil
				if r.msgBinary {
					return opBinary, m, nil
				}
				return opText, m, nil
			}
		}
	}
}

// closePayload returns a close frame's code (1005 when it has none) and
// checks its form.
func closePayload(p []byte) (int, error) {
	switch {
	case len(p) == 0:
		return 1005, nil
	case len(p) == 1:
		return 0, &wsError{closeProtocolError, "close frame of one byte"}
	case !utf8.Valid(p[2:]):
		return 0, &wsError{closeInvalidData, "close reason is not UTF-8"}
	}
	code := int(binary.BigEndian.Uint16(p))
	if code < 1000 || code >= 1004 && code <= 1006 || code >= 1015 && code < 3000 || code >= 5000 {
		return 0, &wsError{closeProtocolError, "invalid close code"}
	}
	return code, nil
}

// appendHeader appends the header of a server frame (unmasked, final) with
// n bytes of payload.
func appendHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xFFFF:
		return append(dst, 126, byte(n>>8), byte(n))
	}
	dst = append(dst, 127)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}

// appendFrame appends a server frame with the payload.
func appendFrame(dst []byte, op byte, payload []byte) []byte {
	return append(appendHeader(dst, op, len(payload)), payload...)
}

// appendClose appends a close frame with code and reason.
func appendClose(dst []byte, code int, reason string) []byte {
	var p [125]byte
	binary.BigEndian.PutUint16(p[:], uint16(code))
	n := copy(p[2:], reason)
	return appendFrame(dst, opClose, p[:2+n])
}

// errPeerClosed ends a read loop after the client's close frame.
var errPeerClosed = errors.New("websocket: the client closed the connection")
