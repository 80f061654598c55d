package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
)

// A REST request whose body trickles in is not held: refused at once when
// its credentials are bad (before the body is read), cut off after
// ReadTimeout when they are good. (Before, both were held for as long as
// the client kept sending a byte now and then.)
func TestSlowRequestBodies(t *testing.T) {
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.ReadTimeout = 500 * time.Millisecond
	}))
	for _, tc := range []struct {
		name, usersig string
	}{
		{"bad usersig", "junk"},
		{"good usersig", imkittest.SignFor(t, imkittest.Admin, time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			q := url.Values{"sdkappid": {fmt.Sprint(imkittest.SDKAppID)}, "identifier": {imkittest.Admin},
				"usersig": {tc.usersig}, "random": {"1"}, "contenttype": {"json"}}
			fmt.Fprintf(c, "POST /v4/im_open_login_svc/account_import?%s HTTP/1.1\r\nHost: imkit\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", q.Encode())
			// The server answers and closes the connection while the rest
			// of the body has not come.
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), `"ActionStatus":"FAIL"`) {
				t.Fatalf("answer %d %s, want a refusal", resp.StatusCode, body)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the answer: %v, want the connection closed (EOF)", err)
			}
		})
	}
}

// A client address holds at most MaxConnsPerAddr connections: one more is
// closed before its WebSocket upgrade; once one closes, the next logs in.
// Loopback is not limited, so this needs another address of this machine.
func TestConnectionsPerAddress(t *testing.T) {
	ip := nonLoopback(t)
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.Addr = net.JoinHostPort(ip.String(), "0")
		c.MaxConnsPerAddr = 3
	}))
	target := srv.Target()
	var d bench.Dialer
	login := func(i int) (*bench.Conn, error) {
		frame, err := bench.LoginFrame(target, "alice", fmt.Sprint("i", i), imkit.PlatformWeb)
		if err != nil {
			t.Fatal(err)
		}
		return d.Login(context.Background(), target.URL, "alice", frame)
	}
	var conns []*bench.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 3 {
		c, err := login(i)
		if err != nil {
			t.Fatalf("login %d of 3: %v", i, err)
		}
		conns = append(conns, c)
	}
	if c, err := login(3); err == nil {
		c.Close()
		t.Fatal("a fourth connection from one address logged in")
	}
	conns[0].Close()
	imkittest.Eventually(t, "room for a connection once one closed", func() bool {
		c, err := login(4)
		if err == nil {
			conns = append(conns, c)
		}
		return err == nil
	})
}

// nonLoopback returns an IPv4 address of this machine other than loopback,
// or skips the test.
func nonLoopback(t *testing.T) net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("no interface addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP
		}
	}
	t.Skip("no address other than loopback to connect from")
	return nil
}
