package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/webhook"
)

// hook is one callback a receiver got.
type hook struct {
	query url.Values
	body  map[string]any
}

// receiver is an httptest server that records callbacks; answer decides
// each reply's status (nil: 200).
type receiver struct {
	*httptest.Server
	got    chan hook
	answer func(n int) int
	calls  atomic.Int64
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	t.Helper()
	r := &receiver{got: make(chan hook, 1000), answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := int(r.calls.Add(1))
		b, _ := io.ReadAll(req.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		status := http.StatusOK
		if r.answer != nil {
			status = r.answer(n)
		}
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			status = http.StatusBadRequest
		}
		w.WriteHeader(status)
		w.Write([]byte(`{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}`))
		r.got <- hook{query: req.URL.Query(), body: m}
	}))
	t.Cleanup(r.Close)
	return r
}

// next returns the next callback, failing the test after 10s.
func (r *receiver) next(t *testing.T) hook {
	t.Helper()
	select {
	case h := <-r.got:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no callback within 10s")
		return hook{}
	}
}

// results counts a Sender's results.
type results struct {
	mu sync.Mutex
	n  map[string]int
	ch chan string
}

func newResults() *results { return &results{n: map[string]int{}, ch: make(chan string, 1000)} }

func (r *results) add(s string) {
	r.mu.Lock()
	r.n[s]++
	r.mu.Unlock()
	r.ch <- s
}

func (r *results) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[s]
}

// waitFor waits up to 10s for a result.
func (r *results) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-r.ch:
			if s == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q result within 10s", want)
		}
	}
}

func newSender(t *testing.T, target string, res *results, edit func(*webhook.Config)) *webhook.Sender {
	t.Helper()
	cfg := webhook.Config{
		URL:      func(context.Context, uint64) (string, error) { return target, nil },
		Backoff:  time.Millisecond,
		OnResult: res.add,
	}
	if edit != nil {
		edit(&cfg)
	}
	s := webhook.New(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

func TestDelivery(t *testing.T) {
	rcv := newReceiver(t, nil)
	res := newResults()
	s := newSender(t, rcv.URL+"/cb?token=abc", res, nil)
	at := time.UnixMilli(1629883332497)
	s.Notify(webhook.Event{
		App: 1400000001, UserID: "testuser316", Action: webhook.ActionLogin, Reason: webhook.ReasonRegister,
		Platform: imkit.PlatformIPhone, Kicked: []imkit.Platform{imkit.PlatformWindows, imkit.PlatformAndroid}, At: at,
	})
	h := rcv.next(t)
	wantQuery := url.Values{
		"token":           {"abc"},
		"SdkAppid":        {"1400000001"},
		"CallbackCommand": {"State.StateChange"},
		"contenttype":     {"json"},
		"OptPlatform":     {"IOS"},
	}
	if diff := cmp.Diff(wantQuery, h.query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	// Tencent's documented example body.
	var want map[string]any
	json.Unmarshal([]byte(`{"CallbackCommand":"State.StateChange","EventTime":1629883332497,
		"Info":{"Action":"Login","To_Account":"testuser316","Reason":"Register"},
		"KickedDevice":[{"Platform":"Windows"},{"Platform":"Android"}]}`), &want)
	if diff := cmp.Diff(want, h.body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	res.waitFor(t, webhook.Delivered)

	// No KickedDevice when nothing was kicked; a REST kick is OptPlatform RESTAPI.
	s.Notify(webhook.Event{App: 1, UserID: "u", Action: webhook.ActionLogout, Reason: webhook.ReasonUnregister, REST: true, At: at})
	h = rcv.next(t)
	if _, ok := h.body["KickedDevice"]; ok {
		t.Errorf("KickedDevice present without kicks: %v", h.body)
	}
	if got := h.query.Get("OptPlatform"); got != "RESTAPI" {
		t.Errorf("OptPlatform = %q, want RESTAPI", got)
	}
}

func TestRetries(t *testing.T) {
	// Two failures, then success: three attempts.
	rcv := newReceiver(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	res := newResults()
	s := newSender(t, rcv.URL, res, nil)
	s.Notify(webhook.Event{App: 1, UserID: "u", Action: webhook.ActionLogin, Reason: webhook.ReasonRegister, At: time.Now()})
	res.waitFor(t, webhook.Delivered)
	if got := rcv.calls.Load(); got != 3 {
		t.Errorf("%d attempts, want 3", got)
	}
	if got := res.count(webhook.Retried); got != 2 {
		t.Errorf("%d retries counted, want 2", got)
	}

	// Always failing: MaxAttempts attempts, then failed.
	bad := newReceiver(t, func(int) int { return http.StatusServiceUnavailable })
	res = newResults()
	s = newSender(t, bad.URL, res, func(c *webhook.Config) { c.MaxAttempts = 4 })
	s.Notify(webhook.Event{App: 1, UserID: "u", Action: webhook.ActionLogin, Reason: webhook.ReasonRegister, At: time.Now()})
	res.waitFor(t, webhook.Failed)
	if got := bad.calls.Load(); got != 4 {
		t.Errorf("%d attempts, want 4", got)
	}
}

func TestTimeoutAndFullQueue(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	res := newResults()
	s := newSender(t, slow.URL, res, func(c *webhook.Config) {
		c.Timeout = 50 * time.Millisecond
		c.MaxAttempts = 2
		c.Workers = 1
		c.QueueSize = 2
	})
	// Notify never waits, however slow the receiver: a burst fills the
	// queue and the rest is dropped.
	done := make(chan int)
	go func() {
		dropped := 0
		for range 50 {
			if !s.Notify(webhook.Event{App: 1, UserID: "u", Action: webhook.ActionLogin, Reason: webhook.ReasonRegister, At: time.Now()}) {
				dropped++
			}
		}
		done <- dropped
	}()
	select {
	case dropped := <-done:
		if dropped < 40 {
			t.Errorf("%d of 50 events dropped, want most (queue of 2)", dropped)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Notify blocked on a slow receiver")
	}
	if got := res.count(webhook.Dropped); got < 40 {
		t.Errorf("%d drops counted, want at least 40", got)
	}
	// The attempts time out and the event fails.
	res.waitFor(t, webhook.Failed)
}

func TestNoURL(t *testing.T) {
	res := newResults()
	s := newSender(t, "", res, nil)
	s.Notify(webhook.Event{App: 1, UserID: "u", Action: webhook.ActionLogin, At: time.Now()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(res.n) != 0 {
		t.Errorf("results %v for an app without a webhook, want none", res.n)
	}
	if s.Notify(webhook.Event{App: 1, UserID: "u"}) {
		t.Error("Notify after Close accepted the event")
	}
}
