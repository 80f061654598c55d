package admin_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/usersig"
)

func TestAuthAndRequestErrors(t *testing.T) {
	var logs syncBuffer
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}))
	r := newREST(t, srv)
	const cmd = "im_open_login_svc/account_check"
	const body = `{"CheckItem":[{"UserID":"a"}]}`
	sign := func(app uint64, key, id string, at time.Time, d time.Duration) string {
		s, err := usersig.SignTicket(key, usersig.Ticket{SDKAppID: app, Identifier: id, Time: at.Unix(), Expire: int64(d / time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	otherKey := strings.Repeat("ab", 32)
	var sigs []string // every ticket sent, to look for in the logs
	for _, tt := range []struct {
		name string
		edit func(q url.Values)
		want imkit.Code
	}{
		{"no sdkappid", func(q url.Values) { q.Del("sdkappid") }, imkit.ErrSvrSDKAppIDMiss},
		{"sdkappid not a number", func(q url.Values) { q.Set("sdkappid", "abc") }, imkit.ErrSvrInvalidSDKAppID},
		{"unknown sdkappid", func(q url.Values) { q.Set("sdkappid", "1400999999") }, imkit.ErrSvrSDKAppIDNotFound},
		{"no identifier", func(q url.Values) { q.Del("identifier") }, imkit.ErrSvrInvalidAccount},
		{"identifier not the admin", func(q url.Values) {
			q.Set("identifier", "alice")
			q.Set("usersig", sign(imkittest.SDKAppID, imkittest.Key, "alice", now, time.Hour))
		}, imkit.ErrSvrIDNotAdmin},
		{"no usersig", func(q url.Values) { q.Del("usersig") }, imkit.ErrSvrUserSigEmpty},
		{"undecodable usersig", func(q url.Values) { q.Set("usersig", "not-a-ticket") }, imkit.ErrSvrUserSigCheckFailed},
		{"usersig of another key", func(q url.Values) {
			q.Set("usersig", sign(imkittest.SDKAppID, otherKey, imkittest.Admin, now, time.Hour))
		}, imkit.ErrSvrUserSigMismatchKey},
		{"usersig of another identifier", func(q url.Values) {
			q.Set("usersig", sign(imkittest.SDKAppID, imkittest.Key, "alice", now, time.Hour))
		}, imkit.ErrSvrUserSigMismatchID},
		{"usersig of another app", func(q url.Values) {
			q.Set("usersig", sign(1400000002, imkittest.Key, imkittest.Admin, now, time.Hour))
		}, imkit.ErrSvrUserSigMismatchApp},
		{"expired usersig", func(q url.Values) {
			q.Set("usersig", sign(imkittest.SDKAppID, imkittest.Key, imkittest.Admin, now.Add(-2*time.Hour), time.Hour))
		}, imkit.ErrSvrUserSigExpired},
		{"no random", func(q url.Values) { q.Del("random") }, imkit.ErrSvrInvalidHTTPURL},
		{"random not a uint32", func(q url.Values) { q.Set("random", "4294967296") }, imkit.ErrSvrInvalidHTTPURL},
		{"contenttype not json", func(q url.Values) { q.Set("contenttype", "xml") }, imkit.ErrSvrInvalidHTTPURL},
		{"a parameter twice", func(q url.Values) { q.Add("sdkappid", "1") }, imkit.ErrSvrInvalidHTTPURL},
	} {
		q := r.query()
		tt.edit(q)
		sigs = append(sigs, q.Get("usersig"))
		got := decode(t, r.raw(http.MethodPost, cmd, q, body))
		if code := envelopeCode(t, got); code != tt.want {
			t.Errorf("%s: code %d (%v), want %d", tt.name, code, got["ErrorInfo"], tt.want)
		}
	}

	// Method, path and body.
	q := r.query()
	sigs = append(sigs, q.Get("usersig"))
	for _, tt := range []struct {
		name, method, path, body string
		want                     imkit.Code
	}{
		{"GET", http.MethodGet, cmd, "", imkit.ErrSvrRequestTimeout},
		{"PUT", http.MethodPut, cmd, body, imkit.ErrSvrRequestTimeout},
		{"unknown command", http.MethodPost, "im_open_login_svc/nothing", body, imkit.ErrSvrInvalidRes},
		{"unknown service", http.MethodPost, "nothing/account_check", body, imkit.ErrSvrInvalidRes},
		{"no command", http.MethodPost, "im_open_login_svc", body, imkit.ErrSvrInvalidHTTPURL},
		{"too deep", http.MethodPost, "im_open_login_svc/account_check/x", body, imkit.ErrSvrInvalidHTTPURL},
		{"empty body", http.MethodPost, cmd, "", imkit.ErrSvrReqJSONParseFailed},
		{"not JSON", http.MethodPost, cmd, "<xml/>", imkit.ErrSvrReqJSONParseFailed},
		{"a JSON string", http.MethodPost, cmd, `"x"`, imkit.ErrSvrReqJSONParseFailed},
	} {
		got := decode(t, r.raw(tt.method, tt.path, q, tt.body))
		if code := envelopeCode(t, got); code != tt.want {
			t.Errorf("%s: code %d (%v), want %d", tt.name, code, got["ErrorInfo"], tt.want)
		}
	}

	// Tickets never reach the log, nor do URLs.
	for _, s := range sigs {
		if s != "" && strings.Contains(logs.String(), s) {
			t.Errorf("the log holds a usersig:\n%s", logs.String())
			break
		}
	}
	if strings.Contains(logs.String(), "usersig=") {
		t.Errorf("the log holds a request URL:\n%s", logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBodyLimit(t *testing.T) {
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) { c.RESTMaxBody = 1024 }))
	r := newREST(t, srv)
	big := `{"Accounts":["a"],"pad":"` + strings.Repeat("x", 1024) + `"}`
	if got := r.code("im_open_login_svc/multiaccount_import", big); got != imkit.ErrSvrBodySizeLimit {
		t.Errorf("a body over the limit: code %d, want 80002", got)
	}
	r.ok("im_open_login_svc/multiaccount_import", `{"Accounts":["a"]}`)

	// The default limit is 1 MiB.
	srv = imkittest.RunServer(t)
	r = newREST(t, srv)
	big = `{"Accounts":["a"],"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	if got := r.code("im_open_login_svc/multiaccount_import", big); got != imkit.ErrSvrBodySizeLimit {
		t.Errorf("a body over 1 MiB: code %d, want 80002", got)
	}
}

func TestRateLimit(t *testing.T) {
	srv := imkittest.RunServer(t, imkittest.WithConfig(func(c *server.Config) {
		c.RESTRate = 0.001 // no refill within the test
		c.RESTBurst = 3
	}))
	r := newREST(t, srv)
	for i := range 3 {
		r.ok("im_open_login_svc/account_import", fmt.Sprintf(`{"UserID":"u%d"}`, i))
	}
	if got := r.code("im_open_login_svc/account_import", `{"UserID":"u4"}`); got != imkit.ErrSvrRESTFreqLimit {
		t.Errorf("the 4th call of a burst of 3: code %d, want 60007", got)
	}
	// Calls that fail authentication do not use the app's budget up.
	q := r.query()
	q.Set("usersig", "bad")
	if got := envelopeCode(t, decode(t, r.raw(http.MethodPost, "im_open_login_svc/account_import", q, `{}`))); got != imkit.ErrSvrUserSigCheckFailed {
		t.Errorf("a bad ticket while limited: code %d, want 70003", got)
	}
}
