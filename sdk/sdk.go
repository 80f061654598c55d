// Package sdk is imkit's Go client SDK, shaped like Tencent Cloud Chat's
// V2TIMManager: create an SDK for an SDKAppID (InitSDK), Login with a userID
// and the UserSig your backend signed, and the SDK keeps the session online
// by itself, reconnecting after network loss and renewing tickets, until
// Logout, a kick or ticket expiry, which it reports through the Listener.
//
// Every call returns errors carrying Tencent's numeric codes (*imkit.Error,
// usable with errors.As); the login status takes Tencent's values
// (imkit.LoginStatusLogined = 1, Logining = 2, Logout = 3).
//
// Several SDK instances may live in one process; each is one client
// instance (one device, one browser tab) to the server.
package sdk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/protocol"
)

// Version is the SDK's version, sent to the server at login.
const Version = "0.1.0"

// Config configures an SDK. ServerURL and Platform are required.
type Config struct {
	// ServerURL is the imkit server: "ws://host:port" or "wss://host:port"
	// (http and https are accepted too); the path defaults to /ws.
	ServerURL string
	// ServerURLs are more servers of the same cluster (nodes sharing one
	// database), tried in turn after ServerURL: the SDK moves on to the
	// next when it cannot connect to one, or when one shuts down (close
	// 4000), and resumes the same session there.
	ServerURLs []string
	// Platform is the platform this instance runs on; the server's login
	// policy groups instances by it.
	Platform imkit.Platform
	// DataDir holds the local cache, one directory per app and user; empty
	// keeps the cache in memory only.
	DataDir string
	// InstanceID identifies this instance to the server (1..64 bytes); empty
	// picks a random one. Give one app install a stable ID to have its
	// restarts replace its own earlier session rather than count as another
	// instance.
	InstanceID string
	// Listener receives the SDK's callbacks, one at a time, in order, on a
	// goroutine of the SDK's own.
	Listener Listener
	// UserSigProvider, when set, is asked for a fresh ticket when the
	// server says the current one is about to expire; the SDK renews the
	// ticket on the same connection. It is also asked before resuming
	// after a network loss when the ticket ran out meanwhile. Without it
	// (or when it fails, or gives the same ticket) the session ends at
	// expiry with OnUserSigExpired.
	UserSigProvider func(ctx context.Context, userID string) (string, error)
	// LoginTimeout bounds Login and Logout when their context has no
	// deadline, and each try to reconnect (default 30s).
	LoginTimeout time.Duration
	// Heartbeat overrides the ping interval the server asks for; the link is
	// deemed dead, and the SDK reconnects, after 2.5 intervals without a
	// frame from the server.
	Heartbeat time.Duration
	// ReconnectMin and ReconnectMax bound the reconnect backoff (full
	// jitter, doubling): defaults 200ms and 30s.
	ReconnectMin, ReconnectMax time.Duration
	// Logger receives the SDK's log; nil discards. Tickets are never logged.
	Logger *slog.Logger
}

// Listener holds the SDK's callbacks; any may be nil. They mirror Tencent's
// V2TIMSDKListener, V2TIMAdvancedMsgListener and V2TIMConversationListener.
type Listener struct {
	// OnConnecting: the SDK is connecting (or reconnecting) to the server.
	OnConnecting func()
	// OnConnectSuccess: the connection is up and the session is on it.
	OnConnectSuccess func()
	// OnConnectFailed: one try to connect failed; code says why. While
	// logged in the SDK tries again by itself.
	OnConnectFailed func(code imkit.Code, msg string)
	// OnKickedOffline: another login (or an admin) ended this session. The
	// status is LOGOUT; the SDK does not reconnect. Login again to go back.
	OnKickedOffline func(KickInfo)
	// OnUserSigExpired: the ticket ran out (or was revoked) and was not
	// renewed. The status is LOGOUT. Login with a new ticket to go back.
	OnUserSigExpired func()
	// OnRecvNewMessage: a message new to this instance arrived (pushed or
	// synced), including messages this user sent from other instances, but
	// never the ones this instance sent. Each comes once, in the order of
	// the user's mailbox. A new device (an empty cache) is not told of the
	// user's past, nor is one more than CatchUpLimit messages behind: the
	// conversation list and History show it.
	OnRecvNewMessage func(*Message)
	// OnConversationChanged: conversations changed (new message, read).
	OnConversationChanged func([]*Conversation)
	// OnConversationDeleted: conversations (their peers) were deleted, on
	// this instance or on another of the user's.
	OnConversationDeleted func(peers []string)
	// OnSyncServerStart, then OnSyncServerFinish or OnSyncServerFailed,
	// around each catch-up with the server after a login or reconnect.
	OnSyncServerStart  func()
	OnSyncServerFinish func()
	OnSyncServerFailed func()
}

// KickInfo says who kicked an instance offline.
type KickInfo struct {
	Reason imkit.KickReason
	// Platform is the kicking login's platform (PlatformUnknown for an
	// admin kick).
	Platform imkit.Platform
	Time     time.Time
}

// SDK is one client instance.
type SDK struct {
	appID  uint64
	cfg    Config
	urls   []string     // ServerURL, then ServerURLs, as WebSocket URLs
	cur    atomic.Int32 // the index in urls of the server in use
	dialer *websocket.Dialer
	log    *slog.Logger
	ev     *events

	mu      sync.Mutex // guards the fields below
	inited  bool
	status  imkit.LoginStatus
	attempt *attempt // the Login in progress
	sess    *session // the logged-in session
	cache   *cache   // the cache of the user logged in or logging in
}

// attempt is a Login in progress.
type attempt struct {
	cancel  context.CancelFunc
	aborted imkit.Code // why it was ended from outside: 6023 or 7009
}

// New initialises an SDK for an app (Tencent's initSDK). It refuses an
// unknown platform or a bad server URL with code 6017.
func New(sdkAppID uint64, cfg Config) (*SDK, error) {
	if sdkAppID == 0 {
		return nil, imkit.Errorf(imkit.ErrInvalidParameters, "SDKAppID is 0")
	}
	if !cfg.Platform.Valid() {
		return nil, imkit.Errorf(imkit.ErrInvalidParameters, "unknown platform %d: set Config.Platform", cfg.Platform)
	}
	var urls []string
	for _, su := range append([]string{cfg.ServerURL}, cfg.ServerURLs...) {
		u, err := wsURL(su)
		if err != nil {
			return nil, err
		}
		urls = append(urls, u)
	}
	if cfg.InstanceID == "" {
		var b [12]byte
		rand.Read(b[:])
		cfg.InstanceID = hex.EncodeToString(b[:])
	}
	if len(cfg.InstanceID) > 64 {
		return nil, imkit.Errorf(imkit.ErrInvalidParameters, "InstanceID is longer than 64 bytes")
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = 30 * time.Second
	}
	if cfg.ReconnectMin <= 0 {
		cfg.ReconnectMin = 200 * time.Millisecond
	}
	if cfg.ReconnectMax <= 0 {
		cfg.ReconnectMax = 30 * time.Second
	}
	s := &SDK{
		appID: sdkAppID,
		cfg:   cfg,
		urls:  urls,
		dialer: &websocket.Dialer{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   4096,
			WriteBufferSize:  4096,
		},
		log:    cfg.Logger,
		ev:     newEvents(),
		inited: true,
		status: imkit.LoginStatusLogout,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// server returns the URL of the server in use and its index.
func (s *SDK) server() (string, int32) {
	i := s.cur.Load()
	return s.urls[i], i
}

// nextServer moves on from server i (which failed or shut down) to the
// next, unless someone moved on already.
func (s *SDK) nextServer(i int32) {
	if s.cur.CompareAndSwap(i, (i+1)%int32(len(s.urls))) && len(s.urls) > 1 {
		s.log.Info("moving to the next server", "from", s.urls[i], "to", s.urls[(i+1)%int32(len(s.urls))])
	}
}

// wsURL turns the configured server URL into the WebSocket endpoint's.
func wsURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", imkit.Errorf(imkit.ErrInvalidParameters, "bad ServerURL %q: want ws://host:port", s)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", imkit.Errorf(imkit.ErrInvalidParameters, "bad ServerURL %q: scheme must be ws, wss, http or https", s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = protocol.Path
	}
	return u.String(), nil
}

// Login logs userID in with a ticket (UserSig) signed by the app's backend.
// The first login of a userID signs the user up. It returns:
//   - nil when the user is already logged in (nothing changes);
//   - 6013 before New or after UnInit; 7003 for a userID that is not 1..32
//     bytes of a-zA-Z0-9_-; 70002 for an empty ticket (before any network);
//   - 7501 while another Login is running; 6023 when Logout ends it first;
//   - 6206 for an expired ticket; the server's code for other refusals
//     (70009 wrong key, 70013 wrong user, 70014 wrong app, 70020 unknown
//     app, 70050 locked after too many bad tickets, 70052 revoked);
//   - 9508/9510/9520 when the server cannot be reached in time.
//
// Logging in as another user while logged in switches accounts: the old
// user's session ends on the server (a logout, not a kick) first.
func (s *SDK) Login(ctx context.Context, userID, userSig string) error {
	if s == nil {
		return imkit.Errorf(imkit.ErrSDKNotInitialized, "the SDK is not initialised")
	}
	if err := imkit.ValidateUserID(userID); err != nil {
		return err
	}
	if userSig == "" {
		return imkit.Errorf(imkit.ErrSvrUserSigEmpty, "userSig is empty")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.LoginTimeout)
		defer cancel()
	}
	s.mu.Lock()
	switch {
	case !s.inited:
		s.mu.Unlock()
		return imkit.Errorf(imkit.ErrSDKNotInitialized, "the SDK is not initialised")
	case s.attempt != nil:
		s.mu.Unlock()
		return imkit.Errorf(imkit.ErrLoginInProcess, "another login is in progress")
	case s.status == imkit.LoginStatusLogined && s.sess.userID == userID:
		s.mu.Unlock()
		return nil
	}
	old := s.sess
	s.sess = nil
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	a := &attempt{cancel: cancel}
	s.attempt = a
	s.status = imkit.LoginStatusLogining
	s.switchCacheLocked(userID)
	s.mu.Unlock()

	if old != nil {
		old.logout(actx)
	}
	sess := newSession(s, userID, userSig)
	c, reply, err := sess.connect(actx, "")

	s.mu.Lock()
	if s.attempt != a {
		s.mu.Unlock()
		if c != nil {
			go sess.logoutOn(c)
		}
		return imkit.Errorf(a.aborted, "the login was ended before it finished")
	}
	s.attempt = nil
	if err != nil {
		s.status = imkit.LoginStatusLogout
		s.mu.Unlock()
		return loginError(err)
	}
	s.sess = sess
	s.status = imkit.LoginStatusLogined
	s.mu.Unlock()
	sess.start(c, reply)
	return nil
}

// loginError maps the server's expiry code to the SDK's, as Tencent's SDK
// does.
func loginError(err error) error {
	if imkit.ErrorCode(err) == imkit.ErrSvrUserSigExpired {
		return imkit.Errorf(imkit.ErrUserSigExpired, "%s (server code %d)", imkit.ErrorMessage(err), imkit.ErrSvrUserSigExpired)
	}
	return err
}

// Logout ends this instance's session (the user's other instances stay
// online): no more messages arrive. A running Login fails with 6023. It
// returns 6013 before New or after UnInit; otherwise it succeeds locally at
// once. It waits for the server to be told, up to ctx's deadline
// (LoginTimeout without one); while the SDK is reconnecting, it keeps
// trying to reach the server until then. When the server cannot be told,
// it ends the session when the ticket runs out.
func (s *SDK) Logout(ctx context.Context) error {
	if s == nil {
		return imkit.Errorf(imkit.ErrSDKNotInitialized, "the SDK is not initialised")
	}
	s.mu.Lock()
	if !s.inited {
		s.mu.Unlock()
		return imkit.Errorf(imkit.ErrSDKNotInitialized, "the SDK is not initialised")
	}
	if a := s.attempt; a != nil {
		a.aborted = imkit.ErrLoggedOutBeforeLogin
		a.cancel()
		s.attempt = nil
	}
	sess := s.sess
	s.sess = nil
	s.status = imkit.LoginStatusLogout
	s.mu.Unlock()
	if sess != nil {
		sess.logout(ctx)
	}
	return nil
}

// UnInit logs out (waiting at most a few seconds for the server) and
// releases everything: every later call returns 6013, and no callback is
// queued any more (those queued before still run). A running Login fails
// with 7009.
func (s *SDK) UnInit() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	if !s.inited {
		s.mu.Unlock()
		return nil
	}
	s.inited = false
	if a := s.attempt; a != nil {
		a.aborted = imkit.ErrInterrupted
		a.cancel()
		s.attempt = nil
	}
	sess, c := s.sess, s.cache
	s.sess, s.cache = nil, nil
	s.status = imkit.LoginStatusLogout
	s.mu.Unlock()
	if sess != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		sess.logout(ctx)
		cancel()
	}
	if c != nil {
		c.close()
	}
	s.ev.close()
	return nil
}

// Close is UnInit, for io.Closer.
func (s *SDK) Close() error { return s.UnInit() }

// LoginUser returns the logged-in userID, or "" unless the status is
// LOGINED.
func (s *SDK) LoginUser() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != imkit.LoginStatusLogined {
		return ""
	}
	return s.sess.userID
}

// LoginStatus returns LOGINED (1), LOGINING (2) or LOGOUT (3). It stays
// LOGINED while the SDK reconnects.
func (s *SDK) LoginStatus() imkit.LoginStatus {
	if s == nil {
		return imkit.LoginStatusLogout
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Connected reports whether the logged-in session has a live connection now.
func (s *SDK) Connected() bool {
	sess := s.current()
	if sess == nil {
		return false
	}
	return sess.connected()
}

// current returns the logged-in session, or nil.
func (s *SDK) current() *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess
}

// loggedIn returns the logged-in session, or 6013/6014.
func (s *SDK) loggedIn() (*session, error) {
	if s == nil {
		return nil, imkit.Errorf(imkit.ErrSDKNotInitialized, "the SDK is not initialised")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inited {
		return nil, imkit.Errorf(imkit.ErrSDKNotInitialized, "the SDK is not initialised")
	}
	if s.status != imkit.LoginStatusLogined {
		return nil, imkit.Errorf(imkit.ErrSDKNotLoggedIn, "not logged in")
	}
	return s.sess, nil
}

// ended is how a session ended without the app asking.
type ended uint8

const (
	endedKicked ended = iota + 1
	endedExpired
	endedRefused // a reconnect was refused for another reason
)

// endSession ends a session that the server ended; the app is told unless
// it had moved on already. A refusal with code OK was reported before.
func (s *SDK) endSession(sess *session, how ended, kick KickInfo, code imkit.Code, msg string) {
	s.mu.Lock()
	current := s.sess == sess
	if current {
		s.sess = nil
		s.status = imkit.LoginStatusLogout
	}
	s.mu.Unlock()
	sess.stop()
	if !current {
		return
	}
	s.log.Info("session ended", "user", sess.userID, "how", how, "code", code)
	l := s.cfg.Listener
	switch how {
	case endedKicked:
		if l.OnKickedOffline != nil {
			s.ev.post(func() { l.OnKickedOffline(kick) })
		}
	case endedExpired:
		if l.OnUserSigExpired != nil {
			s.ev.post(l.OnUserSigExpired)
		}
	case endedRefused:
		if l.OnConnectFailed != nil && code != imkit.OK {
			s.ev.post(func() { l.OnConnectFailed(code, msg) })
		}
	}
}

// emit posts a callback when it is set.
func (s *SDK) emit(f func()) {
	if f != nil {
		s.ev.post(f)
	}
}

func (s *SDK) String() string {
	return fmt.Sprintf("sdk(%d, %s)", s.appID, strings.ToLower(s.cfg.Platform.String()))
}
