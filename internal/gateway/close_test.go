package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/protocol"
)

// The server's close frame reaches the client, before and after login,
// whatever the client left unread: 1009 for a frame over the limit, 1002 for
// a violation of the WebSocket protocol, and the echo of the client's own
// close. (Before, the socket was closed under the close frame and clients
// saw 1006, which says "reconnect and resend".)
func TestCloseFramesArrive(t *testing.T) {
	srv := imkittest.RunServer(t)
	target := srv.Target()
	cases := []struct {
		name string
		send func(ws *websocket.Conn) error
		want int
	}{
		{"too big", func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), protocol.MaxFrameSize+4096))
		}, websocket.CloseMessageTooBig},
		{"unmasked frame", func(ws *websocket.Conn) error {
			_, err := ws.UnderlyingConn().Write([]byte{0x81, 0x01, 'x'})
			return err
		}, websocket.CloseProtocolError},
		{"client's close", func(ws *websocket.Conn) error {
			return ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(5*time.Second))
		}, websocket.CloseNormalClosure},
	}
	for _, loggedIn := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/logged in %v", tc.name, loggedIn), func(t *testing.T) {
				for i := range 20 {
					ws := dialForClose(t, target, loggedIn, i)
					if err := tc.send(ws); err != nil {
						t.Fatalf("try %d: send: %v", i, err)
					}
					if got := readClose(t, ws); got != tc.want {
						t.Fatalf("try %d: close %d, want %d", i, got, tc.want)
					}
					ws.Close()
				}
			})
		}
	}
}

// dialForClose connects, and logs in when loggedIn.
func dialForClose(t *testing.T, target bench.Target, loggedIn bool, i int) *websocket.Conn {
	t.Helper()
	var d bench.Dialer
	ctx := context.Background()
	if !loggedIn {
		ws, err := d.Dial(ctx, target.URL)
		if err != nil {
			t.Fatal(err)
		}
		return ws
	}
	frame, err := bench.LoginFrame(target, "alice", fmt.Sprint("i", i), imkit.PlatformWeb)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Login(ctx, target.URL, "alice", frame)
	if err != nil {
		t.Fatal(err)
	}
	return c.WS
}

// readClose reads until the connection ends and returns the close code the
// client saw (1006 when no close frame came).
func readClose(t *testing.T, ws *websocket.Conn) int {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
			return ce.Code
		}
		t.Logf("read: %v", err)
		return websocket.CloseAbnormalClosure
	}
}
