package gateway_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/protocol"
	"github.com/imkit/imkit/usersig"
)

// Ticket times: a ticket valid for longer than the cap (10 years by
// default) or signed further in the future than the clock skew allows (5
// minutes) is refused with 70003, so that an admin kick, which revokes by
// TLS.time, cannot be outlived; one within the skew works. Without a cap, a
// ticket valid for ever logs in and is not warned about expiring.
func TestTicketTimes(t *testing.T) {
	srv := imkittest.RunServer(t)
	url := bench.WSURL(srv.Addr())
	now := time.Now()
	cases := []struct {
		name   string
		ticket usersig.Ticket
		want   imkit.Code
	}{
		{"over the cap", usersig.Ticket{Time: now.Unix(), Expire: int64(11 * 365 * 24 * 3600)}, imkit.ErrSvrUserSigCheckFailed},
		{"valid for ever", usersig.Ticket{Time: now.Unix(), Expire: math.MaxInt64}, imkit.ErrSvrUserSigCheckFailed},
		{"an hour ahead", usersig.Ticket{Time: now.Add(time.Hour).Unix(), Expire: 86400}, imkit.ErrSvrUserSigCheckFailed},
		{"at the cap", usersig.Ticket{Time: now.Unix(), Expire: int64(10 * 365 * 24 * 3600)}, imkit.OK},
		{"a minute ahead", usersig.Ticket{Time: now.Add(time.Minute).Unix(), Expire: 86400}, imkit.OK},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loginTicket(t, url, tc.ticket, i)
			if got := imkit.ErrorCode(err); got != tc.want {
				t.Fatalf("login: %v, want code %d", err, tc.want)
			}
		})
	}

	t.Run("no cap", func(t *testing.T) {
		srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) { c.MaxTicketLifetime = -1 }))
		c, err := loginTicket(t, bench.WSURL(srv.Addr()), usersig.Ticket{Time: time.Now().Unix(), Expire: math.MaxInt64}, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.WS.SetReadDeadline(time.Now().Add(10 * time.Second))
		if err := c.Request(9, protocol.OpPing, nil); err != nil {
			t.Fatal(err)
		}
		f, err := c.ReadFrame()
		if err != nil || f.ID != 9 {
			t.Fatalf("after the login: %+v, %v; want the ping's reply, no push", f, err)
		}
	})
}

// loginTicket logs "alice" in with a ticket of the test app made from tk.
func loginTicket(t *testing.T, url string, tk usersig.Ticket, instance int) (*bench.Conn, error) {
	t.Helper()
	tk.SDKAppID, tk.Identifier = imkittest.SDKAppID, "alice"
	sig, err := usersig.SignTicket(imkittest.Key, tk)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := protocol.AppendRequest(nil, 1, protocol.OpLogin, protocol.LoginRequest{
		SDKAppID: imkittest.SDKAppID, UserID: "alice", UserSig: sig,
		Platform: imkit.PlatformWeb, InstanceID: "i" + string(rune('a'+instance)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var d bench.Dialer
	return d.Login(context.Background(), url, "alice", frame)
}
