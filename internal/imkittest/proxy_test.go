package imkittest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// echo starts a line echo server and returns its address.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dialProxy(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// roundTrip writes a line and reads it back within d.
func roundTrip(c net.Conn, r *bufio.Reader, d time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(d))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("hello\n")); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func TestProxyFaults(t *testing.T) {
	p := NewProxy(t, echo(t))
	c, r := dialProxy(t, p)
	if got, err := roundTrip(c, r, 5*time.Second); err != nil || got != "hello\n" {
		t.Fatalf("pass: got %q, %v", got, err)
	}

	p.Pause()
	done := make(chan error, 1)
	go func() { _, err := roundTrip(c, r, 10*time.Second); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("a round trip got through a paused proxy: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	p.Resume()
	if err := <-done; err != nil {
		t.Fatalf("after resume: %v", err)
	}

	p.SetDelay(10 * time.Millisecond)
	if _, err := roundTrip(c, r, 5*time.Second); err != nil {
		t.Fatalf("delayed: %v", err)
	}
	p.SetDelay(0)

	p.Blackhole()
	if _, err := roundTrip(c, r, 100*time.Millisecond); !isTimeout(err) {
		t.Fatalf("blackholed link: got %v, want a timeout", err)
	}
	if n := p.Links(); n != 0 {
		t.Fatalf("Links() = %d after Blackhole, want 0", n)
	}

	// New connections still pass.
	c2, r2 := dialProxy(t, p)
	if _, err := roundTrip(c2, r2, 5*time.Second); err != nil {
		t.Fatalf("new link after blackhole: %v", err)
	}
	p.Drop()
	if _, err := roundTrip(c2, r2, 5*time.Second); err == nil || isTimeout(err) {
		t.Fatalf("dropped link: got %v, want EOF or reset", err)
	}

	c3, r3 := dialProxy(t, p)
	if _, err := roundTrip(c3, r3, 5*time.Second); err != nil {
		t.Fatalf("new link after drop: %v", err)
	}
	p.Reset()
	if _, err := roundTrip(c3, r3, 5*time.Second); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("reset link: got %v, want connection reset", err)
	}

	p.SetMode(Refuse)
	if c4, err := net.Dial("tcp", p.Addr()); err == nil {
		// The reset may come after the handshake.
		if _, err := roundTrip(c4, bufio.NewReader(c4), 5*time.Second); err == nil || isTimeout(err) {
			t.Fatalf("refused: got %v, want a reset", err)
		}
		c4.Close()
	}

	p.Offline()
	c5, r5 := dialProxy(t, p)
	if _, err := roundTrip(c5, r5, 100*time.Millisecond); !isTimeout(err) {
		t.Fatalf("swallowed: got %v, want a timeout", err)
	}

	p.Online()
	c6, r6 := dialProxy(t, p)
	if _, err := roundTrip(c6, r6, 5*time.Second); err != nil {
		t.Fatalf("online again: %v", err)
	}
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
