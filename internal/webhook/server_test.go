package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/protocol"
	"github.com/imkit/imkit/restapi"
	"github.com/imkit/imkit/sdk"
)

// newSDK returns an SDK instance for the test server.
func newSDK(t *testing.T, srv *imkittest.Server, p imkit.Platform, l sdk.Listener) *sdk.SDK {
	t.Helper()
	s, err := sdk.New(imkittest.SDKAppID, sdk.Config{ServerURL: srv.URL, Platform: p, Listener: l,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.UnInit() })
	return s
}

func login(t *testing.T, srv *imkittest.Server, s *sdk.SDK, user string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Login(ctx, user, srv.Sign(user)); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
}

// rawLogin logs user in over a bare WebSocket, which then does nothing.
func rawLogin(t *testing.T, srv *imkittest.Server, user string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr()+protocol.Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	f, err := protocol.AppendRequest(nil, 1, protocol.OpLogin, protocol.LoginRequest{
		SDKAppID: imkittest.SDKAppID, UserID: user, UserSig: srv.Sign(user),
		Platform: imkit.PlatformLinux, InstanceID: "raw-" + user,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, f); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	reply, err := protocol.DecodeFrame(b)
	if err != nil || reply.Err() != nil {
		t.Fatalf("raw login: %v %v", err, reply.Err())
	}
	return ws
}

// expect reads the next callback and checks its action, reason, user and
// OptPlatform, and the kicked platforms.
func expect(t *testing.T, rcv *receiver, action, reason, user, opt string, kicked ...string) {
	t.Helper()
	h := rcv.next(t)
	info, _ := h.body["Info"].(map[string]any)
	got := fmt.Sprintf("%v/%v/%v/%s", info["Action"], info["Reason"], info["To_Account"], h.query.Get("OptPlatform"))
	want := fmt.Sprintf("%s/%s/%s/%s", action, reason, user, opt)
	var gotKicked []string
	if kd, ok := h.body["KickedDevice"].([]any); ok {
		for _, d := range kd {
			gotKicked = append(gotKicked, fmt.Sprint(d.(map[string]any)["Platform"]))
		}
	}
	if got != want || strings.Join(gotKicked, ",") != strings.Join(kicked, ",") {
		t.Fatalf("callback %s kicked %v, want %s kicked %v", got, gotKicked, want, kicked)
	}
	if h.query.Get("SdkAppid") != fmt.Sprint(imkittest.SDKAppID) || h.body["CallbackCommand"] != "State.StateChange" {
		t.Errorf("callback %v %v: want SdkAppid and CallbackCommand State.StateChange", h.query, h.body)
	}
	// The client's address; none for a change a REST call made.
	wantIP := "127.0.0.1"
	if opt == "RESTAPI" {
		wantIP = ""
	}
	if got := h.query.Get("ClientIP"); got != wantIP {
		t.Errorf("callback %s: ClientIP %q, want %q", want, got, wantIP)
	}
}

func TestStateChangeEvents(t *testing.T) {
	rcv := newReceiver(t, nil)
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.IdleTimeout = 300 * time.Millisecond
	}))
	api := restapi.NewClient(srv.URL, imkittest.SDKAppID, imkittest.Admin, imkittest.Key)
	ctx := t.Context()
	if _, err := api.SetWebhook(ctx, rcv.URL+"/state"); err != nil {
		t.Fatal(err)
	}

	a := newSDK(t, srv, imkit.PlatformAndroid, sdk.Listener{})
	login(t, srv, a, "u")
	expect(t, rcv, "Login", "Register", "u", "Android")

	// A login that kicks lists the kicked device.
	i := newSDK(t, srv, imkit.PlatformIPhone, sdk.Listener{})
	login(t, srv, i, "u")
	expect(t, rcv, "Login", "Register", "u", "IOS", "Android")

	if err := i.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, rcv, "Logout", "Unregister", "u", "IOS")

	// A restart: the link closes, the SDK comes back (a reconnect is a
	// Login/Register again).
	w := newSDK(t, srv, imkit.PlatformWeb, sdk.Listener{})
	login(t, srv, w, "w")
	expect(t, rcv, "Login", "Register", "w", "Web")
	srv.Restart()
	expect(t, rcv, "Disconnect", "LinkClose", "w", "Web")
	expect(t, rcv, "Login", "Register", "w", "Web")

	// An admin kick ends the session: Logout, caused by the REST API.
	if err := api.Kick(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	expect(t, rcv, "Logout", "Unregister", "w", "RESTAPI")

	// A link closed without a logout, and a silent link.
	ws := rawLogin(t, srv, "x")
	expect(t, rcv, "Login", "Register", "x", "Linux")
	ws.UnderlyingConn().Close()
	expect(t, rcv, "Disconnect", "LinkClose", "x", "Linux")
	rawLogin(t, srv, "y")
	expect(t, rcv, "Login", "Register", "y", "Linux")
	expect(t, rcv, "Disconnect", "TimeOut", "y", "Linux")

	// Turned off: nothing more.
	if _, err := api.SetWebhook(ctx, ""); err != nil {
		t.Fatal(err)
	}
	z := newSDK(t, srv, imkit.PlatformMac, sdk.Listener{})
	login(t, srv, z, "z")
	m := metric(t, srv, `imkit_webhook_events_total{result="delivered"}`)
	if m < 6 { // since the restart
		t.Errorf("delivered metric %v, want at least 6", m)
	}
	select {
	case h := <-rcv.got:
		t.Errorf("a callback after the webhook was turned off: %v", h.body)
	default:
	}
}

// metric returns a sample's value from the server's /metrics.
func metric(t *testing.T, srv *imkittest.Server, name string) float64 {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

func TestSlowReceiverNeverBlocksLogins(t *testing.T) {
	release := make(chan struct{})
	hit := make(chan struct{}, 100)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.Webhook.Workers = 1
		c.Webhook.QueueSize = 2
		c.Webhook.Timeout = 10 * time.Second
		c.Webhook.Backoff = time.Millisecond
	}))
	api := restapi.NewClient(srv.URL, imkittest.SDKAppID, imkittest.Admin, imkittest.Key)
	if _, err := api.SetWebhook(t.Context(), slow.URL); err != nil {
		t.Fatal(err)
	}
	// The first callback holds the only worker; the queue fills; the
	// logins go on all the same, each within its own deadline.
	for i := range 8 {
		s := newSDK(t, srv, imkit.PlatformWeb, sdk.Listener{})
		start := time.Now()
		login(t, srv, s, fmt.Sprint("user", i))
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("login %d took %v with a stuck webhook receiver", i, d)
		}
		if i == 0 {
			select {
			case <-hit:
			case <-time.After(10 * time.Second):
				t.Fatal("the receiver got no callback")
			}
		}
	}
	if got := metric(t, srv, `imkit_webhook_events_total{result="dropped"}`); got < 5 {
		t.Errorf("dropped events metric = %v, want at least 5 (8 logins, 1 in flight, queue of 2)", got)
	}
}
