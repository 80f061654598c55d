package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/protocol"
)

// A connection that sends faster than its request limit gets 7008 for the
// requests over it, and the connection goes on: pings and logouts are never
// limited, and the limit allows more as time passes.
func TestRequestLimit(t *testing.T) {
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.RequestRate, c.RequestBurst = 10, 20
	}))
	target := srv.Target()
	frame, err := bench.LoginFrame(target, "alice", "i1", imkit.PlatformWeb)
	if err != nil {
		t.Fatal(err)
	}
	var d bench.Dialer
	c, err := d.Login(context.Background(), target.URL, "alice", frame)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WS.SetReadDeadline(time.Now().Add(10 * time.Second))

	const n = 60
	for i := range n {
		if err := c.Request(uint64(100+i), protocol.OpConvList, protocol.ConvListRequest{Limit: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Request(1000, protocol.OpPing, nil); err != nil {
		t.Fatal(err)
	}
	limited, pinged := 0, false
	for range n + 1 {
		f, err := c.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		code := imkit.ErrorCode(f.Err())
		switch {
		case f.ID == 1000:
			pinged = code == 0
		case f.ID < 100+20 && code != 0:
			t.Fatalf("request %d, within the burst of 20: code %d", f.ID-100, code)
		case code == imkit.ErrAPICallFrequency:
			limited++
		case code != 0:
			t.Fatalf("request %d: code %d, want 0 or 7008", f.ID-100, code)
		}
	}
	// 10 a second regained while 60 were sent: at most a few of the 40
	// over the burst went through.
	if limited < 30 || !pinged {
		t.Fatalf("%d of %d requests limited (want at least 30), ping answered: %v", limited, n, pinged)
	}
	// Tokens come back: within a second or so, a request goes through.
	id := uint64(2000)
	imkittest.Eventually(t, "a request allowed again", func() bool {
		id++
		if err := c.Request(id, protocol.OpConvList, protocol.ConvListRequest{Limit: 1}); err != nil {
			t.Fatal(err)
		}
		f, err := c.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		return f.Err() == nil
	})
	// Out of tokens again, a logout still goes through.
	for i := range 30 {
		c.Request(uint64(3000+i), protocol.OpConvList, protocol.ConvListRequest{Limit: 1})
	}
	if err := c.Request(4000, protocol.OpLogout, nil); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := c.ReadFrame()
		if err != nil {
			t.Fatalf("no reply to the logout: %v", err)
		}
		if f.ID == 4000 {
			if err := f.Err(); err != nil {
				t.Fatalf("logout over the limit: %v", err)
			}
			return
		}
	}
}
