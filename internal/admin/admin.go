// Package admin is imkit's admin REST API, compatible with Tencent Cloud
// Chat's REST API v4: POST /v4/<service>/<command>?sdkappid=&identifier=
// &usersig=&random=&contenttype=json with Tencent's JSON bodies and field
// names, answered with Tencent's envelope {"ActionStatus", "ErrorInfo",
// "ErrorCode"} and HTTP 200 for API-level errors. It is the only place that
// maps codes to HTTP.
//
// Every call must come from the app's admin identifier with a UserSig that
// verifies for it. Calls are rate limited per app (token bucket, 60007) and
// bodies are bounded. docs/rest.md lists the endpoints, limits and codes.
//
// Request URLs carry the admin's UserSig: they are never logged.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/message"
	"github.com/imkit/imkit/internal/ratelimit"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/protocol"
	"github.com/imkit/imkit/usersig"
)

// Store is the part of store.Store the REST API uses.
type Store interface {
	App(ctx context.Context, sdkAppID uint64) (store.App, error)
	UpdateApp(ctx context.Context, a store.App) error
	User(ctx context.Context, app uint64, userID string) (store.User, error)
	ImportUser(ctx context.Context, u store.User, day string) (bool, error)
	DeleteUser(ctx context.Context, app uint64, userID string, at time.Time) error
	DayStats(ctx context.Context, app uint64, first, last string) ([]store.DayStats, error)
	MonthActiveUsers(ctx context.Context, app uint64, month string) (int, error)
}

// Sessions is the part of the login subsystem (session.Service) the REST
// API uses.
type Sessions interface {
	// App returns an app's settings (cached); 70020 when unknown.
	App(ctx context.Context, sdkAppID uint64) (store.App, error)
	// ForgetApp drops an app from the cache after a change.
	ForgetApp(sdkAppID uint64)
	// KickUser ends every session of the user and revokes older tickets;
	// 70107 when the user is unknown.
	KickUser(ctx context.Context, app uint64, userID string) ([]store.Session, error)
	// Day and Month return the statistics periods of a time.
	Day(t time.Time) string
	Month(t time.Time) string
}

// Presence tells which users have instances online, and on which platforms.
type Presence interface {
	Online(app uint64, users []string) map[string][]imkit.Platform
}

// Messages sends messages (message.Service).
type Messages interface {
	SendWith(ctx context.Context, app uint64, from string, req *protocol.SendRequest, opts message.SendOptions) (*store.Message, error)
}

// Config configures an API. Store, Sessions, Presence and Messages are
// required; the zero value of every other field works.
type Config struct {
	Store    Store
	Sessions Sessions
	Presence Presence
	Messages Messages
	// Now is the clock of tickets and statistics; nil means time.Now. The
	// rate limiter always uses the real clock.
	Now func() time.Time
	// Rate is how many calls per second one app may make (default 1000),
	// with bursts of up to Burst calls (default Rate); more get 60007.
	Rate  float64
	Burst int
	// MaxBody is the largest request body in bytes (default 1 MiB); larger
	// ones get 80002.
	MaxBody int64
	// OnCall, when set, is told of every call: "service/command" (or
	// "unknown"), the result code and the time taken. It must not block.
	OnCall func(command string, code imkit.Code, d time.Duration)
	// Logger receives internal errors; nil discards. URLs, tickets and
	// bodies are never logged.
	Logger *slog.Logger
}

// Limits of the API.
const (
	// MaxAccounts is the most accounts one account_* call takes.
	MaxAccounts = 100
	// MaxStateAccounts is the most accounts one query_online_status takes.
	MaxStateAccounts = 500
	// DefaultMaxBody is the default bound of a request body.
	DefaultMaxBody = 1 << 20
	// StatsDays is how many days getappinfo reports.
	StatsDays = 30
)

// Codes the API uses that the root package does not name.
const (
	codeProfileSizeLimit      imkit.Code = 40601 // ERR_SVR_PROFILE_SIZE_LIMIT: Nick or FaceUrl over 500 bytes
	codeMsgInvalidTimestamp   imkit.Code = 90006 // ERR_SVR_MSG_INVALID_TIMESTAMP
	codeMsgInvalidSyncOther   imkit.Code = 90031 // ERR_SVR_MSG_INVALID_SYNCOTHERMACHINE
	codeMsgInvalidMsgLifeTime imkit.Code = 90044 // ERR_SVR_MSG_INVALID_MSGLIFETIME
	codeMsgAccountNotFound    imkit.Code = 90048 // ERR_SVR_MSG_ACCOUNT_NOT_FOUND: From_Account unknown
)

// API serves the REST API.
type API struct {
	store    Store
	sessions Sessions
	presence Presence
	messages Messages
	now      func() time.Time
	maxBody  int64
	onCall   func(string, imkit.Code, time.Duration)
	log      *slog.Logger
	limiter  *limiter
	routes   map[string]route

	appMu sync.Mutex // serialises changes of app settings on this node
}

// route is one endpoint.
type route struct {
	// parseCode is the code of a body that is not valid JSON: 90001 for
	// openim (messages, state), 60003 elsewhere.
	parseCode imkit.Code
	handle    func(ctx context.Context, c *call) (any, error)
}

// call is one authenticated request.
type call struct {
	app     store.App
	command string // "service/command"
	body    []byte
	now     time.Time
	parse   imkit.Code
}

// New returns an API.
func New(cfg Config) *API {
	a := &API{
		store:    cfg.Store,
		sessions: cfg.Sessions,
		presence: cfg.Presence,
		messages: cfg.Messages,
		now:      cfg.Now,
		maxBody:  cfg.MaxBody,
		onCall:   cfg.OnCall,
		log:      cfg.Logger,
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBody
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	rate, burst := cfg.Rate, float64(cfg.Burst)
	if rate <= 0 {
		rate = 1000
	}
	if burst <= 0 {
		burst = max(rate, 1)
	}
	a.limiter = newLimiter(rate, burst)
	login := imkit.ErrSvrReqJSONParseFailed
	msg := imkit.ErrSvrMsgJSONParseFailed
	a.routes = map[string]route{
		"im_open_login_svc/account_import":      {login, a.accountImport},
		"im_open_login_svc/multiaccount_import": {login, a.multiAccountImport},
		"im_open_login_svc/account_delete":      {login, a.accountDelete},
		"im_open_login_svc/account_check":       {login, a.accountCheck},
		"im_open_login_svc/kick":                {login, a.kick},
		"openim/query_online_status":            {msg, a.queryOnlineStatus},
		"openim/querystate":                     {msg, a.queryOnlineStatus},
		"openim/sendmsg":                        {msg, a.sendMsg},
		"openconfigsvr/getappinfo":              {login, a.getAppInfo},
		"imkit/app_policy_get":                  {login, a.appPolicyGet},
		"imkit/app_policy_set":                  {login, a.appPolicySet},
		"imkit/app_webhook_set":                 {login, a.appWebhookSet},
	}
	return a
}

// Envelope is the part of every reply that says how the call went.
type Envelope struct {
	ActionStatus string     `json:"ActionStatus"` // "OK" or "FAIL"
	ErrorInfo    string     `json:"ErrorInfo"`
	ErrorCode    imkit.Code `json:"ErrorCode"`
}

func (e *Envelope) envelope() *Envelope { return e }

// enveloped is a reply that embeds an Envelope.
type enveloped interface{ envelope() *Envelope }

// ServeHTTP serves /v4/<service>/<command>.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body := &readBody{ReadCloser: r.Body}
	r.Body = body
	command, reply := a.serve(r)
	env := &Envelope{}
	if e, ok := reply.(enveloped); ok {
		env = e.envelope()
	}
	b, err := json.Marshal(reply)
	if err != nil {
		a.log.Error("rest: encode reply", "command", command, "err", err)
		env = &Envelope{ActionStatus: "FAIL", ErrorInfo: "internal error", ErrorCode: imkit.ErrSvrInternal}
		b, _ = json.Marshal(env)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	refusedEarly := !body.read && r.ContentLength != 0
	if refusedEarly {
		// Refused before the body was read (bad URL, credentials, rate):
		// the connection is not kept for reading a body that may come
		// slowly, or never.
		w.Header().Set("Connection", "close")
	}
	w.Write(b)
	if refusedEarly {
		rc := http.NewResponseController(w)
		rc.Flush()
		rc.SetReadDeadline(time.Now())
	}
	if a.onCall != nil {
		a.onCall(command, env.ErrorCode, time.Since(start))
	}
}

// readBody records whether a request's body was read.
type readBody struct {
	io.ReadCloser
	read bool
}

func (b *readBody) Read(p []byte) (int, error) {
	b.read = true
	return b.ReadCloser.Read(p)
}

// fail returns the reply of a failed call.
func fail(err error) *Envelope {
	return &Envelope{ActionStatus: "FAIL", ErrorInfo: imkit.ErrorMessage(err), ErrorCode: imkit.ErrorCode(err)}
}

// serve checks and runs one call; it returns the command (for metrics) and
// the reply.
func (a *API) serve(r *http.Request) (string, any) {
	command := "unknown"
	rest, ok := strings.CutPrefix(r.URL.Path, "/v4/")
	service, cmd, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || service == "" || cmd == "" || strings.Contains(cmd, "/") {
		return command, fail(imkit.Errorf(imkit.ErrSvrInvalidHTTPURL, "the URL path must be /v4/<service>/<command>"))
	}
	rt, known := a.routes[rest]
	if !known {
		return command, fail(imkit.Errorf(imkit.ErrSvrInvalidRes, "unknown service or command %q", clip(rest)))
	}
	command = rest
	if r.Method != http.MethodPost {
		return command, fail(imkit.Errorf(imkit.ErrSvrRequestTimeout, "the REST API takes POST requests only, not %s", clip(r.Method)))
	}
	app, now, err := a.authenticate(r)
	if err != nil {
		return command, fail(err)
	}
	if !a.limiter.allow(app.SDKAppID, time.Now()) {
		return command, fail(imkit.Errorf(imkit.ErrSvrRESTFreqLimit, "too many REST calls for this app; slow down"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, a.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return command, fail(imkit.Errorf(imkit.ErrSvrBodySizeLimit, "the request body is larger than %d bytes", a.maxBody))
		}
		return command, fail(imkit.Errorf(imkit.ErrSvrRequestTimeout, "reading the request body failed"))
	}
	c := &call{app: app, command: command, body: body, now: now, parse: rt.parseCode}
	reply, err := rt.handle(r.Context(), c)
	if err != nil {
		if _, ok := errors.AsType[*imkit.Error](err); !ok {
			a.log.Error("rest", "command", command, "app", app.SDKAppID, "err", err)
			err = imkit.Errorf(imkit.ErrSvrInternal, "internal error; retry later")
		}
		return command, fail(err)
	}
	if e, ok := reply.(enveloped); ok {
		env := e.envelope()
		env.ActionStatus, env.ErrorCode = "OK", imkit.OK
	}
	return command, reply
}

// authenticate checks the query parameters and the admin's ticket, and
// returns the app and the clock reading the ticket was checked at.
func (a *API) authenticate(r *http.Request) (store.App, time.Time, error) {
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return store.App{}, time.Time{}, err
	}
	appID := q["sdkappid"]
	if appID == "" {
		return store.App{}, time.Time{}, imkit.Errorf(imkit.ErrSvrSDKAppIDMiss, "the URL has no sdkappid")
	}
	id, err := strconv.ParseUint(appID, 10, 64)
	if err != nil || id == 0 {
		return store.App{}, time.Time{}, imkit.Errorf(imkit.ErrSvrInvalidSDKAppID, "sdkappid %q is not a number", clip(appID))
	}
	identifier, sig := q["identifier"], q["usersig"]
	if identifier == "" {
		return store.App{}, time.Time{}, imkit.Errorf(imkit.ErrSvrInvalidAccount, "the URL has no identifier (the app's admin)")
	}
	if sig == "" {
		return store.App{}, time.Time{}, imkit.Errorf(imkit.ErrSvrUserSigEmpty, "the URL has no usersig")
	}
	random, ok := q["random"]
	if !ok {
		return store.App{}, time.Time{}, imkit.Errorf(imkit.ErrSvrInvalidHTTPURL, "the URL has no random (a 32-bit unsigned number)")
	}
	if _, err := strconv.ParseUint(random, 10, 32); err != nil {
		return store.App{}, time.Time{}, imkit.Errorf(imkit.ErrSvrInvalidHTTPURL, "random %q is not a 32-bit unsigned number", clip(random))
	}
	if ct, ok := q["contenttype"]; ok && !strings.EqualFold(ct, "json") {
		return store.App{}, time.Time{}, imkit.Errorf(imkit.ErrSvrInvalidHTTPURL, "contenttype must be json, not %q", clip(ct))
	}
	ctx := r.Context()
	app, err := a.sessions.App(ctx, id)
	if err != nil {
		return store.App{}, time.Time{}, err
	}
	if identifier != app.Admin {
		return store.App{}, time.Time{}, imkit.Errorf(imkit.ErrSvrIDNotAdmin, "identifier %q is not the app's admin", clip(identifier))
	}
	now := a.now()
	t, err := usersig.Decode(sig)
	if err == nil {
		err = t.Check(id, app.Key, identifier, now)
		if imkit.ErrorCode(err) == imkit.ErrSvrUserSigExpired {
			// Report expiry only for a genuine ticket.
			if serr := t.Check(id, app.Key, identifier, t.ExpiresAt()); serr != nil {
				err = serr
			}
		}
	}
	if err != nil {
		return store.App{}, time.Time{}, err
	}
	return app, now, nil
}

// parseQuery parses a query string; a parameter given twice is refused.
func parseQuery(raw string) (map[string]string, error) {
	out := make(map[string]string)
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, imkit.Errorf(imkit.ErrSvrInvalidHTTPURL, "the URL's query is not well encoded")
		}
		if _, dup := out[k]; dup {
			return nil, imkit.Errorf(imkit.ErrSvrInvalidHTTPURL, "the URL has %q more than once", clip(k))
		}
		out[k] = v
	}
	return out, nil
}

// decode parses the body into v. A body that is not a JSON object gets the
// route's parse code; a field of the wrong type gets the code typeCode
// returns for it (nil: 70402).
func (c *call) decode(v any, typeCode func(field string) imkit.Code) error {
	if len(strings.TrimSpace(string(c.body))) == 0 {
		return imkit.Errorf(c.parse, "the request body is empty; send a JSON object ({} when no field is needed)")
	}
	err := json.Unmarshal(c.body, v)
	if err == nil {
		return nil
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		code := imkit.ErrSvrInvalidParameters
		if typeCode != nil {
			code = typeCode(te.Field)
		}
		return imkit.Errorf(code, "field %s must be %s, not a JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	}
	if c.parse == imkit.ErrSvrMsgJSONParseFailed {
		return imkit.Errorf(c.parse, "Fail to Parse json data of body, Please check it")
	}
	return imkit.Errorf(c.parse, "the request body is not a JSON object: %s", clip(err.Error()))
}

func jsonKind(k string) string {
	switch {
	case k == "string":
		return "a string"
	case k == "slice" || k == "array":
		return "an array"
	case k == "struct" || k == "map":
		return "an object"
	case k == "bool":
		return "a boolean"
	case strings.HasPrefix(k, "int") || strings.HasPrefix(k, "uint"):
		return "an integer"
	}
	return "of another type"
}

// clip shortens client-supplied text quoted in a message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func internal(what string, err error) error { return fmt.Errorf("%s: %w", what, err) }

// limiter is a token bucket per app.
type limiter struct {
	rate, burst float64

	mu   sync.Mutex // guards apps
	apps map[uint64]*ratelimit.Bucket
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, apps: make(map[uint64]*ratelimit.Bucket)}
}

// allow takes a token of app's bucket at now, if there is one.
func (l *limiter) allow(app uint64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.apps[app]
	if b == nil {
		b = new(ratelimit.Bucket)
		l.apps[app] = b
	}
	return b.Take(now, l.rate, l.burst)
}
