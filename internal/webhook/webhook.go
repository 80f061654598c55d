// Package webhook tells an app's backend when its users come online and go
// offline: Tencent's State.StateChange callback, POSTed to the app's webhook
// URL with Tencent's query parameters and JSON body.
//
// Delivery never blocks the caller (the login path): Notify puts the event on
// a bounded queue and returns; when the queue is full the event is dropped
// and counted. A few workers POST the events, each with a timeout, and retry
// a failed attempt a limited number of times with a growing, jittered delay.
// Events of one user go to one worker, so they arrive in order; EventTime
// tells the receiver the order across users.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/session"
	"github.com/imkit/imkit/internal/store"
)

// CallbackCommand is the command of the state-change callback.
const CallbackCommand = "State.StateChange"

// Actions and reasons of state-change events, as Tencent names them.
const (
	ActionLogin      = "Login"      // the instance came online (login or reconnect)
	ActionLogout     = "Logout"     // the session ended (logout, kick, expiry)
	ActionDisconnect = "Disconnect" // the link broke; the SDK reconnects by itself

	ReasonRegister   = "Register"   // with ActionLogin
	ReasonUnregister = "Unregister" // with ActionLogout
	ReasonLinkClose  = "LinkClose"  // with ActionDisconnect: the link was closed
	ReasonTimeOut    = "TimeOut"    // with ActionDisconnect: the link went silent
)

// Results reported to Config.OnResult.
const (
	Delivered = "delivered" // the receiver answered with a 2xx status
	Retried   = "retried"   // an attempt failed; another follows
	Failed    = "failed"    // the last attempt failed; the event is dropped
	Dropped   = "dropped"   // the queue was full or closed; the event is dropped
)

// Event is one change of a user's state.
type Event struct {
	App    uint64
	UserID string
	Action string
	Reason string
	// Platform is the platform of the instance concerned (OptPlatform).
	Platform imkit.Platform
	// REST is true when a REST API call caused the change (OptPlatform
	// RESTAPI), as an admin kick.
	REST bool
	// Kicked lists the platforms of the instances a login kicked offline.
	Kicked []imkit.Platform
	At     time.Time
	// ClientIP is the client's address (the ClientIP query parameter);
	// "" when a REST call caused the change.
	ClientIP string
}

// Config configures a Sender. URL is required; the zero value of every other
// field works.
type Config struct {
	// URL returns an app's webhook URL; "" sends nothing for that app.
	URL func(ctx context.Context, app uint64) (string, error)
	// Client sends the requests; nil uses a client of the package's own.
	Client *http.Client
	// Timeout bounds each attempt (default 3s).
	Timeout time.Duration
	// QueueSize is the most events waiting (default 4096); more are dropped.
	QueueSize int
	// Workers is how many events are sent at once (default 4).
	Workers int
	// MaxAttempts is how often one event is tried (default 3).
	MaxAttempts int
	// Backoff is the delay before the first retry (default 500ms); it doubles
	// for each further retry, with full jitter.
	Backoff time.Duration
	// OnResult, when set, is told each result (Delivered, Retried, Failed,
	// Dropped); metrics count them. It must not block.
	OnResult func(result string)
	// Logger receives delivery failures; nil discards. URLs are not logged:
	// they may carry the receiver's secrets.
	Logger *slog.Logger
}

// Sender queues and delivers events.
type Sender struct {
	url         func(ctx context.Context, app uint64) (string, error)
	client      *http.Client
	timeout     time.Duration
	maxAttempts int
	backoff     time.Duration
	onResult    func(string)
	log         *slog.Logger
	seed        maphash.Seed

	ctx    context.Context // canceled when Close gives up waiting
	cancel context.CancelFunc

	mu     sync.RWMutex // guards closed and sending on queues
	closed bool
	queues []chan Event
	wg     sync.WaitGroup
}

// New returns a Sender and starts its workers; Close stops them.
func New(cfg Config) *Sender {
	s := &Sender{
		url:         cfg.URL,
		client:      cfg.Client,
		timeout:     cfg.Timeout,
		maxAttempts: cfg.MaxAttempts,
		backoff:     cfg.Backoff,
		onResult:    cfg.OnResult,
		log:         cfg.Logger,
		seed:        maphash.MakeSeed(),
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.timeout <= 0 {
		s.timeout = 3 * time.Second
	}
	if s.maxAttempts <= 0 {
		s.maxAttempts = 3
	}
	if s.backoff <= 0 {
		s.backoff = 500 * time.Millisecond
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	workers, size := cfg.Workers, cfg.QueueSize
	if workers <= 0 {
		workers = 4
	}
	if size <= 0 {
		size = 4096
	}
	per := max(size/workers, 1)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.queues = make([]chan Event, workers)
	for i := range s.queues {
		q := make(chan Event, per)
		s.queues[i] = q
		s.wg.Add(1)
		go s.work(q)
	}
	return s
}

// Notify queues an event without waiting; it reports false when the event
// was dropped because its queue is full or the Sender is closed.
func (s *Sender) Notify(e Event) bool {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(e.UserID)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.closed {
		select {
		case s.queues[(h.Sum64()^e.App)%uint64(len(s.queues))] <- e:
			return true
		default:
		}
	}
	s.result(Dropped)
	return false
}

// Close stops accepting events, delivers the queued ones, and waits for
// that or ctx; then it abandons what is left.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for _, q := range s.queues {
			close(q)
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return ctx.Err()
	}
}

func (s *Sender) result(r string) {
	if s.onResult != nil {
		s.onResult(r)
	}
}

func (s *Sender) work(q chan Event) {
	defer s.wg.Done()
	for e := range q {
		s.deliver(e)
	}
}

// deliver sends one event, retrying failed attempts.
func (s *Sender) deliver(e Event) {
	if s.ctx.Err() != nil {
		s.result(Dropped)
		return
	}
	lctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	base, err := s.url(lctx, e.App)
	cancel()
	if err != nil {
		s.log.Warn("webhook: app settings", "app", e.App, "err", err)
		s.result(Failed)
		return
	}
	if base == "" {
		return
	}
	target, body, err := request(base, e)
	if err != nil {
		s.log.Warn("webhook: bad URL", "app", e.App, "err", err)
		s.result(Failed)
		return
	}
	delay := s.backoff
	for attempt := 1; ; attempt++ {
		err := s.post(target, body)
		if err == nil {
			s.result(Delivered)
			return
		}
		if attempt >= s.maxAttempts || s.ctx.Err() != nil {
			s.log.Warn("webhook: not delivered", "app", e.App, "user", e.UserID, "action", e.Action, "attempts", attempt, "err", err)
			s.result(Failed)
			return
		}
		s.result(Retried)
		t := time.NewTimer(rand.N(delay) + 1)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
		}
		delay *= 2
	}
}

func (s *Sender) post(target string, body []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		// The error text holds the URL; keep only what went wrong.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection reusable
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	return nil
}

// Body is the JSON body of a state-change callback.
type Body struct {
	CallbackCommand string   `json:"CallbackCommand"`
	EventTime       int64    `json:"EventTime"` // Unix milliseconds
	Info            Info     `json:"Info"`
	KickedDevice    []Device `json:"KickedDevice,omitempty"`
}

// Info is the state change.
type Info struct {
	Action    string `json:"Action"`
	ToAccount string `json:"To_Account"`
	Reason    string `json:"Reason"`
}

// Device is a kicked instance.
type Device struct {
	Platform string `json:"Platform"`
}

// request returns the URL and body of the callback for e.
func request(base string, e Event) (string, []byte, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("parse webhook URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", nil, fmt.Errorf("webhook URL scheme %q is not http or https", u.Scheme)
	}
	q := u.Query()
	q.Set("SdkAppid", strconv.FormatUint(e.App, 10))
	q.Set("CallbackCommand", CallbackCommand)
	q.Set("contenttype", "json")
	q.Set("OptPlatform", OptPlatform(e.Platform, e.REST))
	if e.ClientIP != "" {
		q.Set("ClientIP", e.ClientIP)
	}
	u.RawQuery = q.Encode()
	b := Body{
		CallbackCommand: CallbackCommand,
		EventTime:       e.At.UnixMilli(),
		Info:            Info{Action: e.Action, ToAccount: e.UserID, Reason: e.Reason},
	}
	for _, p := range e.Kicked {
		b.KickedDevice = append(b.KickedDevice, Device{Platform: KickedPlatform(p)})
	}
	body, err := json.Marshal(b)
	return u.String(), body, err
}

// OptPlatform returns the OptPlatform query parameter for an instance's
// platform: Tencent's names for this callback, with the upper-case "IOS" the
// state-change callback uses for iPhone; "RESTAPI" when a REST call caused
// the change. Linux, which Tencent's list lacks, is "Linux".
func OptPlatform(p imkit.Platform, rest bool) string {
	if rest {
		return "RESTAPI"
	}
	switch p {
	case imkit.PlatformIPhone:
		return "IOS"
	case imkit.PlatformAndroid, imkit.PlatformIPad, imkit.PlatformWindows, imkit.PlatformMac, imkit.PlatformLinux, imkit.PlatformWeb:
		return p.String()
	}
	return "Unknown"
}

// KickedPlatform returns the name of a kicked instance's platform in
// KickedDevice: "iOS" for iPhone, else imkit's (Tencent's) platform name.
func KickedPlatform(p imkit.Platform) string {
	if p == imkit.PlatformIPhone {
		return "iOS"
	}
	return p.String()
}

// FromSession returns the state-change events of a login subsystem event:
// a login or resume is Login/Register (a login lists the instances it
// kicked); a logout, an admin kick (one per session ended) and a ticket
// expiry are Logout/Unregister. Refused logins are no state change.
func FromSession(e session.Event) []Event {
	ev := func(s store.Session, action, reason string) Event {
		return Event{App: s.App, UserID: s.UserID, Action: action, Reason: reason, Platform: s.Platform, At: e.At, ClientIP: e.ClientIP}
	}
	switch e.Type {
	case session.EventLogin:
		out := ev(e.Session, ActionLogin, ReasonRegister)
		for _, k := range e.Kicked {
			out.Kicked = append(out.Kicked, k.Platform)
		}
		return []Event{out}
	case session.EventResume:
		return []Event{ev(e.Session, ActionLogin, ReasonRegister)}
	case session.EventLogout, session.EventExpired:
		return []Event{ev(e.Session, ActionLogout, ReasonUnregister)}
	case session.EventKicked:
		out := make([]Event, 0, len(e.Kicked))
		for _, k := range e.Kicked {
			x := ev(k, ActionLogout, ReasonUnregister)
			x.REST = true
			out = append(out, x)
		}
		return out
	}
	return nil
}

// FromDisconnect returns the event of a link that broke: Disconnect with
// reason LinkClose or TimeOut.
func FromDisconnect(s store.Session, reason string, at time.Time) Event {
	if reason != ReasonTimeOut {
		reason = ReasonLinkClose
	}
	return Event{App: s.App, UserID: s.UserID, Action: ActionDisconnect, Reason: reason, Platform: s.Platform, At: at}
}
