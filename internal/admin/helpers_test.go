package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/sdk"
)

// rest calls a test server's REST API with raw JSON, as an app backend
// would.
type rest struct {
	t   testing.TB
	srv *imkittest.Server
	// sig returns the admin's ticket; nil signs one valid for a day.
	sig func() string
}

func newREST(t testing.TB, srv *imkittest.Server) *rest { return &rest{t: t, srv: srv} }

// query returns the standard query parameters.
func (r *rest) query() url.Values {
	sig := ""
	if r.sig != nil {
		sig = r.sig()
	} else {
		sig = r.srv.Sign(imkittest.Admin)
	}
	return url.Values{
		"sdkappid":    {fmt.Sprint(imkittest.SDKAppID)},
		"identifier":  {imkittest.Admin},
		"usersig":     {sig},
		"random":      {"99999999"},
		"contenttype": {"json"},
	}
}

// raw POSTs body to /v4/command with the query and returns the reply body;
// HTTP statuses other than 200 fail the test.
func (r *rest) raw(method, command string, q url.Values, body string) string {
	r.t.Helper()
	req, err := http.NewRequest(method, r.srv.URL+"/v4/"+command+"?"+q.Encode(), strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s: %v", command, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("%s: HTTP %d, want 200 (%s)", command, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		r.t.Errorf("%s: Content-Type %q, want application/json", command, ct)
	}
	return string(b)
}

// post calls command with body and returns the decoded reply.
func (r *rest) post(command, body string) map[string]any {
	r.t.Helper()
	return decode(r.t, r.raw(http.MethodPost, command, r.query(), body))
}

// ok calls command and fails the test unless it succeeds.
func (r *rest) ok(command, body string) map[string]any {
	r.t.Helper()
	got := r.post(command, body)
	if got["ActionStatus"] != "OK" || got["ErrorCode"] != 0.0 {
		r.t.Fatalf("%s %s: %v, want OK", command, body, got)
	}
	return got
}

// code calls command and returns the ErrorCode of its reply, checking the
// failure envelope.
func (r *rest) code(command, body string) imkit.Code {
	r.t.Helper()
	return envelopeCode(r.t, r.post(command, body))
}

func envelopeCode(t testing.TB, got map[string]any) imkit.Code {
	t.Helper()
	code, _ := got["ErrorCode"].(float64)
	if code != 0 && (got["ActionStatus"] != "FAIL" || got["ErrorInfo"] == "") {
		t.Errorf("failure envelope %v: want ActionStatus FAIL and an ErrorInfo", got)
	}
	return imkit.Code(code)
}

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("reply %q is not a JSON object: %v", s, err)
	}
	return m
}

// sameJSON fails the test unless got and want are the same JSON value.
func sameJSON(t testing.TB, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	b, _ := json.Marshal(got)
	var g any
	json.Unmarshal(b, &g)
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("%s: reply mismatch (-want +got):\n%s", what, diff)
	}
}

// client is an SDK instance whose callbacks are recorded.
type client struct {
	*sdk.SDK
	t    testing.TB
	mu   sync.Mutex
	evs  []string // "kicked:<reason>", "expired", "connected", "msg:<text>"
	wake chan struct{}
}

func newClient(t testing.TB, srv *imkittest.Server, p imkit.Platform) *client {
	t.Helper()
	c := &client{t: t, wake: make(chan struct{}, 1)}
	s, err := sdk.New(imkittest.SDKAppID, sdk.Config{
		ServerURL:    srv.URL,
		Platform:     p,
		ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 200 * time.Millisecond,
		Listener: sdk.Listener{
			OnConnectSuccess: func() { c.record("connected") },
			OnKickedOffline:  func(k sdk.KickInfo) { c.record("kicked:" + k.Reason.String()) },
			OnUserSigExpired: func() { c.record("expired") },
			OnRecvNewMessage: func(m *sdk.Message) { c.record("msg:" + m.Text() + customData(m)) },
		},
	})
	if err != nil {
		t.Fatalf("sdk.New: %v", err)
	}
	c.SDK = s
	t.Cleanup(func() { s.UnInit() })
	return c
}

func customData(m *sdk.Message) string {
	var out string
	for _, e := range m.Elems {
		out += e.Data
	}
	return out
}

func (c *client) record(e string) {
	c.mu.Lock()
	c.evs = append(c.evs, e)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// events returns the events recorded so far.
func (c *client) events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.evs...)
}

// waitFor waits up to 10s for an event with the prefix and returns the
// events recorded until then.
func (c *client) waitFor(prefix string) []string {
	c.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		evs := c.events()
		for _, e := range evs {
			if strings.HasPrefix(e, prefix) {
				return evs
			}
		}
		select {
		case <-c.wake:
		case <-deadline.C:
			c.t.Fatalf("no %q event within 10s; got %v", prefix, evs)
		}
	}
}

// login logs in with a ticket signed now (by the test's clock when sign is
// given).
func (c *client) login(srv *imkittest.Server, user string) {
	c.t.Helper()
	c.loginSig(user, srv.Sign(user))
}

func (c *client) loginSig(user, sig string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Login(ctx, user, sig); err != nil {
		c.t.Fatalf("login %s: %v", user, err)
	}
}

// wireLogin logs user in on a bare protocol connection (no SDK), to watch
// the frames the server sends.
func wireLogin(t *testing.T, srv *imkittest.Server, user string, p imkit.Platform) *bench.Conn {
	t.Helper()
	target := srv.Target()
	frame, err := bench.LoginFrame(target, user, "wire-"+user, p)
	if err != nil {
		t.Fatal(err)
	}
	var d bench.Dialer
	c, err := d.Login(t.Context(), target.URL, user, frame)
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	c.WS.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c
}
