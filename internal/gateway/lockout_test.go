package gateway_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/protocol"
	"github.com/imkit/imkit/usersig"
)

// A stranger's junk tickets for a user lock out the stranger, not the
// user: the user's live session renews its ticket and the user logs in on
// another device, while the stranger's address gets 70050 even with a good
// ticket. An address that sprays junk over many users is locked out too.
// (Before, failures counted per user only: ten junk tickets locked the user
// out everywhere and refused the renewals of its live sessions.)
func TestLockoutSparesTheUser(t *testing.T) {
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.MaxFailures, c.MaxAddressFailures = 3, 8
	}))
	target := srv.Target()
	ctx := context.Background()
	var home bench.Dialer // from 127.0.0.1
	stranger := bench.Dialer{Sources: []net.IP{net.IPv4(127, 0, 0, 2)}}
	sprayer := bench.Dialer{Sources: []net.IP{net.IPv4(127, 0, 0, 3)}}
	login := func(d *bench.Dialer, user, instance string, p imkit.Platform, sig string) (*bench.Conn, error) {
		frame, err := protocol.AppendRequest(nil, 1, protocol.OpLogin, protocol.LoginRequest{
			SDKAppID: imkittest.SDKAppID, UserID: user, UserSig: sig, Platform: p, InstanceID: instance,
		})
		if err != nil {
			t.Fatal(err)
		}
		return d.Login(ctx, target.URL, user, frame)
	}
	junk := func(user string) string {
		sig, err := usersig.Sign(imkittest.SDKAppID, "not the key", user, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}

	live, err := login(&home, "alice", "phone", imkit.PlatformAndroid, srv.Sign("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	for i := range 10 {
		want := imkit.ErrSvrUserSigMismatchKey
		if i >= 3 {
			want = imkit.ErrSvrAccountFreqLimit
		}
		_, err := login(&stranger, "alice", "x", imkit.PlatformWeb, junk("alice"))
		if got := imkit.ErrorCode(err); got != want {
			t.Fatalf("stranger's junk ticket %d: %v, want code %d", i, err, want)
		}
	}
	_, err = login(&stranger, "alice", "x", imkit.PlatformWeb, srv.Sign("alice"))
	if got := imkit.ErrorCode(err); got != imkit.ErrSvrAccountFreqLimit {
		t.Fatalf("stranger's good ticket while locked out: %v, want code %d", err, imkit.ErrSvrAccountFreqLimit)
	}

	// The live session renews its ticket on its connection.
	live.WS.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := live.Request(5, protocol.OpRenew, protocol.RenewRequest{UserSig: srv.Sign("alice")}); err != nil {
		t.Fatal(err)
	}
	f, err := live.ReadFrame()
	if err != nil || f.ID != 5 || f.Err() != nil {
		t.Fatalf("renewal of the live session: %+v, %v", f, err)
	}
	// And the user logs in on another device.
	web, err := login(&home, "alice", "browser", imkit.PlatformWeb, srv.Sign("alice"))
	if err != nil {
		t.Fatalf("the user's login from home: %v", err)
	}
	web.Close()

	// An address spraying junk over many users is locked out, for every
	// user, after MaxAddressFailures.
	for i := range 8 {
		user := fmt.Sprint("u", i%4)
		if _, err := login(&sprayer, user, "x", imkit.PlatformWeb, junk(user)); imkit.ErrorCode(err) != imkit.ErrSvrUserSigMismatchKey {
			t.Fatalf("sprayed junk ticket %d: %v", i, err)
		}
	}
	_, err = login(&sprayer, "dave", "x", imkit.PlatformWeb, srv.Sign("dave"))
	if got := imkit.ErrorCode(err); got != imkit.ErrSvrAccountFreqLimit {
		t.Fatalf("good ticket from the spraying address: %v, want code %d", err, imkit.ErrSvrAccountFreqLimit)
	}
	if _, err := login(&home, "dave", "x", imkit.PlatformWeb, srv.Sign("dave")); err != nil {
		t.Fatalf("dave from home: %v", err)
	}
}
