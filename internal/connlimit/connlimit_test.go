package connlimit_test

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/imkit/imkit/internal/connlimit"
)

// Connections over the limit from one address are closed at once; closing
// one makes room for the next.
func TestLimitPerAddress(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := connlimit.New(inner, 2, nil, nil)
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	accept := func() net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("no connection accepted")
			return nil
		}
	}
	// closed reports whether the server closed c (EOF) rather than keeping it.
	closed := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err == io.EOF
	}
	local := netip.MustParseAddr("127.0.0.1")

	dial()
	a := accept()
	dial()
	accept()
	if n := ln.Open(local); n != 2 {
		t.Fatalf("%d open, want 2", n)
	}
	if third := dial(); !closed(third) {
		t.Fatal("the third connection from one address was not closed")
	}
	a.Close()
	if n := ln.Open(local); n != 1 {
		t.Fatalf("%d open after one closed, want 1", n)
	}
	dial()
	if c := accept(); c == nil {
		t.Fatal("no room after a connection closed")
	}

}
