package sdk_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/sdk"
)

// event is one callback the SDK made.
type event struct {
	kind string // "connecting", "connected", "connectFailed", "kicked", "expired", "msg", "conv", "convDel", "syncStart", "syncFinish", "syncFailed"
	code imkit.Code
	text string
	kick sdk.KickInfo
	msg  *sdk.Message
	conv []*sdk.Conversation
}

func (e event) String() string {
	switch e.kind {
	case "connectFailed":
		return fmt.Sprintf("%s(%d %s)", e.kind, e.code, e.text)
	case "kicked":
		return fmt.Sprintf("kicked(%s by %s)", e.kick.Reason, e.kick.Platform)
	case "msg":
		return fmt.Sprintf("msg(%s->%s #%d %q)", e.msg.From, e.msg.To, e.msg.Seq, e.msg.Text())
	}
	return e.kind
}

// client is an SDK instance whose callbacks are recorded.
type client struct {
	*sdk.SDK
	t   testing.TB
	cfg sdk.Config // as given to sdk.New

	mu     sync.Mutex
	events []event
	wake   chan struct{}
}

type clientOption func(*sdk.Config)

func newClient(t testing.TB, url string, p imkit.Platform, opts ...clientOption) *client {
	t.Helper()
	c := &client{t: t, wake: make(chan struct{}, 1)}
	cfg := sdk.Config{
		ServerURL:    url,
		Platform:     p,
		DataDir:      t.TempDir(),
		ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 500 * time.Millisecond,
		Listener: sdk.Listener{
			OnConnecting:          func() { c.record(event{kind: "connecting"}) },
			OnConnectSuccess:      func() { c.record(event{kind: "connected"}) },
			OnConnectFailed:       func(code imkit.Code, msg string) { c.record(event{kind: "connectFailed", code: code, text: msg}) },
			OnKickedOffline:       func(k sdk.KickInfo) { c.record(event{kind: "kicked", kick: k}) },
			OnUserSigExpired:      func() { c.record(event{kind: "expired"}) },
			OnRecvNewMessage:      func(m *sdk.Message) { c.record(event{kind: "msg", msg: m}) },
			OnConversationChanged: func(cs []*sdk.Conversation) { c.record(event{kind: "conv", conv: cs}) },
			OnConversationDeleted: func(peers []string) { c.record(event{kind: "convDel", text: strings.Join(peers, ",")}) },
			OnSyncServerStart:     func() { c.record(event{kind: "syncStart"}) },
			OnSyncServerFinish:    func() { c.record(event{kind: "syncFinish"}) },
			OnSyncServerFailed:    func() { c.record(event{kind: "syncFailed"}) },
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	c.cfg = cfg
	s, err := sdk.New(imkittest.SDKAppID, cfg)
	if err != nil {
		t.Fatalf("sdk.New: %v", err)
	}
	c.SDK = s
	t.Cleanup(func() { s.UnInit() })
	return c
}

func (c *client) record(e event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// waitFor waits up to 10 s for an event of kind (after the first skip of
// them) and returns it.
func (c *client) waitFor(kind string) event {
	c.t.Helper()
	return c.waitMatch(kind, func(event) bool { return true })
}

// waitMatch waits up to 10 s for an event of kind that ok accepts.
func (c *client) waitMatch(kind string, ok func(event) bool) event {
	c.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for _, e := range c.events {
			if e.kind == kind && ok(e) {
				c.mu.Unlock()
				return e
			}
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-deadline.C:
			c.t.Fatalf("no %q event within 10s; got %v", kind, c.history())
		}
	}
}

// count returns how many events of kind were recorded.
func (c *client) count(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, e := range c.events {
		if e.kind == kind {
			n++
		}
	}
	return n
}

func (c *client) history() []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event(nil), c.events...)
}

// login logs user in and fails the test on error.
func (c *client) login(srv *imkittest.Server, user string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Login(ctx, user, srv.Sign(user)); err != nil {
		c.t.Fatalf("login %s: %v", user, err)
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func srvNow() time.Time { return time.Now() }

// Client options.

// withInstance sets the SDK instance ID.
func withInstance(id string) clientOption { return func(c *sdk.Config) { c.InstanceID = id } }

// withProvider sets the UserSig provider.
func withProvider(f func(ctx context.Context, user string) (string, error)) clientOption {
	return func(c *sdk.Config) { c.UserSigProvider = f }
}

// withHeartbeat sets the SDK's ping interval (dead after 2.5 of them).
func withHeartbeat(d time.Duration) clientOption { return func(c *sdk.Config) { c.Heartbeat = d } }

// withLoginTimeout bounds each connect try (and Login, Logout).
func withLoginTimeout(d time.Duration) clientOption {
	return func(c *sdk.Config) { c.LoginTimeout = d }
}

// withMemoryCache keeps the local cache in memory (no files: many clients
// fit in the open-files limit).
func withMemoryCache() clientOption { return func(c *sdk.Config) { c.DataDir = "" } }

// waitCount waits up to 10 s until n events of kind were recorded.
func (c *client) waitCount(kind string, n int) {
	c.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for c.count(kind) < n {
		select {
		case <-c.wake:
		case <-deadline.C:
			c.t.Fatalf("%d %q events within 10s, want %d; got %v", c.count(kind), kind, n, c.history())
		}
	}
}

// mark returns the number of events so far, for since.
func (c *client) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// since returns the kinds of the events after mark.
func (c *client) since(mark int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.events[mark:] {
		out = append(out, e.kind)
	}
	return out
}

// loginWith logs user in with sig and returns the error.
func (c *client) loginWith(user, sig string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Login(ctx, user, sig)
}

// wantErrCode fails the test unless err carries code want.
func wantErrCode(t testing.TB, what string, err error, want imkit.Code) {
	t.Helper()
	if got := imkit.ErrorCode(err); err == nil || got != want {
		t.Fatalf("%s: err = %v, want code %d", what, err, want)
	}
}

// id returns the instance ID the client was given (withInstance).
func (c *client) id() string { return c.cfg.InstanceID }

func TestMain(m *testing.M) {
	imkittest.ServeChild() // when this process is a RunServerProcess child
	os.Exit(m.Run())
}

// phoneBehindProxy logs alice in on an Android instance "phone" connected
// to srv through a fault-injecting proxy, and waits for its first sync.
func phoneBehindProxy(t *testing.T, srv *imkittest.Server, opts ...clientOption) (*client, *imkittest.Proxy) {
	t.Helper()
	net := srv.Proxy()
	phone := newClient(t, net.URL(), imkit.PlatformAndroid, append([]clientOption{withInstance("phone")}, opts...)...)
	phone.login(srv, "alice")
	phone.waitFor("syncFinish")
	return phone, net
}

// cutOff breaks c's link and refuses new ones, and waits for c to fail a
// reconnect.
func cutOff(net *imkittest.Proxy, c *client) {
	net.SetMode(imkittest.Refuse)
	net.Reset()
	c.waitFor("connectFailed")
}
