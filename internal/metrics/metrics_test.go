package metrics_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/restapi"
	"github.com/imkit/imkit/sdk"
)

// scrape returns the server's /metrics as sample name (with labels) ->
// value.
func scrape(t *testing.T, srv *imkittest.Server) map[string]float64 {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	b, _ := io.ReadAll(resp.Body)
	out := make(map[string]float64)
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		var v float64
		fmt.Sscan(line[i+1:], &v)
		out[line[:i]] = v
	}
	return out
}

func TestMetrics(t *testing.T) {
	srv := imkittest.RunServer(t)
	ctx := t.Context()
	newSDK := func(p imkit.Platform) *sdk.SDK {
		s, err := sdk.New(imkittest.SDKAppID, sdk.Config{ServerURL: srv.URL, Platform: p})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.UnInit() })
		return s
	}
	a := newSDK(imkit.PlatformAndroid)
	if err := a.Login(ctx, "alice", srv.Sign("alice")); err != nil {
		t.Fatal(err)
	}
	b := newSDK(imkit.PlatformWindows) // kicks alice's Android (dual policy)
	if err := b.Login(ctx, "alice", srv.Sign("alice")); err != nil {
		t.Fatal(err)
	}
	bad := newSDK(imkit.PlatformWeb)
	if err := bad.Login(ctx, "bob", imkittest.SignAt(t, "bob", time.Now().Add(-48*time.Hour), time.Hour)); err == nil {
		t.Fatal("login with an expired ticket succeeded")
	}
	if _, err := b.SendMessage(ctx, sdk.NewTextMessage("hi"), "carol"); err != nil {
		t.Fatal(err)
	}
	api := restapi.NewClient(srv.URL, imkittest.SDKAppID, imkittest.Admin, imkittest.Key)
	if err := api.Kick(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	var e *imkit.Error
	if err := api.Kick(ctx, "nobody"); !errors.As(err, &e) || e.Code != imkit.ErrSvrAccountNotFound {
		t.Fatalf("kick nobody: %v, want 70107", err)
	}

	m := scrape(t, srv)
	for name, want := range map[string]float64{
		`imkit_logins_total{code="0",kind="login"}`:                             2,
		`imkit_logins_total{code="70001",kind="login"}`:                         1,
		`imkit_kicks_total{reason="multi-device"}`:                              1,
		`imkit_kicks_total{reason="admin"}`:                                     1,
		`imkit_messages_stored_total`:                                           1,
		`imkit_rest_calls_total{code="0",command="im_open_login_svc/kick"}`:     1,
		`imkit_rest_calls_total{code="70107",command="im_open_login_svc/kick"}`: 1,
		`imkit_login_commit_seconds_count`:                                      2,
		`imkit_message_commit_seconds_count`:                                    1,
		`imkit_rest_call_seconds_count{command="im_open_login_svc/kick"}`:       2,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	// The online gauge follows connections.
	c := newSDK(imkit.PlatformIPhone)
	if err := c.Login(ctx, "dave", srv.Sign("dave")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for scrape(t, srv)["imkit_online_sessions"] != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("imkit_online_sessions = %v, want 1 (dave)", scrape(t, srv)["imkit_online_sessions"])
		}
		time.Sleep(5 * time.Millisecond)
	}

	// /healthz still answers.
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s", resp.Status)
	}
}
