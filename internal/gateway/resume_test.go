package gateway_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/protocol"
)

// A resume that is refused leaves the session's live connection alone:
// another instance of the user that asks for the session with a valid
// ticket gets 70402, and the session's own connection goes on. (Before,
// the refused resume had replaced it, closing it with 4004.)
func TestRefusedResumeKeepsTheLiveConnection(t *testing.T) {
	srv := imkittest.RunServer(t)
	target := srv.Target()
	frame, err := bench.LoginFrame(target, "alice", "phone", imkit.PlatformAndroid)
	if err != nil {
		t.Fatal(err)
	}
	var d bench.Dialer
	ctx := context.Background()
	live, err := d.Login(ctx, target.URL, "alice", frame)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	resume, err := protocol.AppendRequest(nil, 1, protocol.OpLogin, protocol.LoginRequest{
		SDKAppID: imkittest.SDKAppID, UserID: "alice", UserSig: srv.Sign("alice"),
		Platform: imkit.PlatformAndroid, InstanceID: "not the phone", SessionID: live.Reply.SessionID,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Login(ctx, target.URL, "alice", resume)
	if got := imkit.ErrorCode(err); got != imkit.ErrSvrInvalidParameters {
		t.Fatalf("resume of another instance's session: %v, want code %d", err, imkit.ErrSvrInvalidParameters)
	}

	live.WS.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := live.Request(7, protocol.OpPing, nil); err != nil {
		t.Fatal(err)
	}
	f, err := live.ReadFrame()
	if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
		t.Fatalf("the live connection was closed with %d by someone else's refused resume", ce.Code)
	}
	if err != nil || f.ID != 7 || f.Err() != nil {
		t.Fatalf("ping on the live connection: %+v, %v", f, err)
	}
}
