// Package session is imkit's login subsystem on the server: it verifies
// tickets, signs users up on their first login, applies the app's
// multi-client login policy (Policy.Admit, inside the store's transaction),
// resumes sessions after reconnects, renews tickets, ends sessions at logout,
// expiry and admin kicks, and locks out users after too many bad tickets.
//
// It does not hold connections: it tells a Notifier which sessions were
// kicked, and the gateway (or, with several nodes, the router) tells the
// connections.
package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/protocol"
	"github.com/imkit/imkit/usersig"
)

// Store is the part of store.Store the login subsystem uses.
type Store interface {
	App(ctx context.Context, sdkAppID uint64) (store.App, error)
	User(ctx context.Context, app uint64, userID string) (store.User, error)
	Login(ctx context.Context, p store.LoginParams) (store.LoginResult, error)
	Session(ctx context.Context, id string) (store.Session, error)
	EndSession(ctx context.Context, id string, state store.SessionState, at time.Time) (bool, error)
	RenewSession(ctx context.Context, id string, ticketTime, ticketExpire int64) error
	KickUser(ctx context.Context, app uint64, userID string, k store.Kick, revokeBefore int64) ([]store.Session, error)
}

// Notifier tells the live connections of sessions, wherever they are, that
// the sessions were kicked.
type Notifier interface {
	Kicked(ctx context.Context, sessions []store.Session)
}

// EventType says what happened to a session.
type EventType uint8

// Event types.
const (
	EventLogin       EventType = iota + 1 // a new login (Kicked lists whom it ended)
	EventResume                           // a session resumed on a new connection
	EventLogout                           // the client logged out
	EventKicked                           // an admin ended the user's sessions (Kicked)
	EventExpired                          // the ticket ran out
	EventLoginFailed                      // a login or resume was refused (Code)
)

// Event is reported to Config.OnEvent after the fact; statistics, metrics and
// webhooks are built on it.
type Event struct {
	Type    EventType
	Session store.Session   // the session concerned (for failures: what was asked)
	Kicked  []store.Session // sessions this event ended
	Code    imkit.Code      // for EventLoginFailed
	At      time.Time
	// ClientIP is the address of the client whose connection made the
	// change (see WithClientIP); "" for changes from the REST API.
	ClientIP string
}

// Config configures a Service. The zero value of every field but Store works.
type Config struct {
	Store Store
	// Notifier is told of kicked sessions; nil tells no one.
	Notifier Notifier
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Location sets the day and month boundaries of the statistics; nil means
	// UTC.
	Location *time.Location
	// MaxFailures bad tickets for one user from one client address (see
	// WithClientIP) within FailureWindow lock that user out from that
	// address for LockDuration (70050); MaxAddressFailures bad tickets
	// from one address, for any users, lock the address out. A live
	// session's renewals count apart, per session: nobody else's failures
	// refuse them. Defaults: 10, 5 × MaxFailures, 1 minute, 1 minute.
	MaxFailures        int
	MaxAddressFailures int
	FailureWindow      time.Duration
	LockDuration       time.Duration
	// MaxTicketLifetime is the longest TLS.expire a ticket may have;
	// longer ones are refused (70003). Default 10 years, the most
	// Tencent allows; negative: no cap.
	MaxTicketLifetime time.Duration
	// ClockSkew is how far in the future a ticket's TLS.time may be (the
	// app backend's clock may run ahead of this server's); later ones are
	// refused (70003), since an admin kick revokes the tickets signed
	// before it by TLS.time. Default 5 minutes; negative: no check.
	ClockSkew time.Duration
	// AppCacheTTL is how long an app's settings are cached; a policy changed
	// in the database applies to logins after at most this long. Default 1s.
	AppCacheTTL time.Duration
	// OnEvent, when set, is called after each login, resume, logout, kick,
	// expiry and refused login. It must not block.
	OnEvent func(Event)
	// Logger receives errors and notable events; nil discards.
	Logger *slog.Logger
}

// Service is the login subsystem.
type Service struct {
	store    Store
	notifier Notifier
	now      func() time.Time
	loc      *time.Location
	onEvent  func(Event)
	log      *slog.Logger
	lockout  *lockout
	ttl      time.Duration
	maxLife  int64 // seconds; <= 0: no cap
	skew     int64 // seconds; < 0: no check

	mu   sync.Mutex // guards apps
	apps map[uint64]cachedApp
}

type cachedApp struct {
	app     store.App
	expires time.Time
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{
		store:    cfg.Store,
		notifier: cfg.Notifier,
		now:      cfg.Now,
		loc:      cfg.Location,
		onEvent:  cfg.OnEvent,
		log:      cfg.Logger,
		ttl:      cfg.AppCacheTTL,
		apps:     make(map[uint64]cachedApp),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.ttl == 0 {
		s.ttl = time.Second
	}
	switch {
	case cfg.MaxTicketLifetime == 0:
		s.maxLife = int64(DefaultMaxTicketLifetime / time.Second)
	case cfg.MaxTicketLifetime > 0:
		s.maxLife = max(int64(cfg.MaxTicketLifetime/time.Second), 1)
	}
	switch {
	case cfg.ClockSkew == 0:
		s.skew = int64(DefaultClockSkew / time.Second)
	case cfg.ClockSkew > 0:
		s.skew = int64(cfg.ClockSkew / time.Second)
	default:
		s.skew = -1
	}
	maxFail, window, lock := cfg.MaxFailures, cfg.FailureWindow, cfg.LockDuration
	if maxFail == 0 {
		maxFail = 10
	}
	maxAddr := cfg.MaxAddressFailures
	if maxAddr == 0 {
		maxAddr = 5 * maxFail
	}
	if window == 0 {
		window = time.Minute
	}
	if lock == 0 {
		lock = time.Minute
	}
	s.lockout = newLockout(maxFail, maxAddr, window, lock)
	return s
}

// Defaults of Config.MaxTicketLifetime and Config.ClockSkew. Tencent
// documents 10 years as the longest validity of a UserSig.
const (
	DefaultMaxTicketLifetime = 10 * 365 * 24 * time.Hour
	DefaultClockSkew         = 5 * time.Minute
)

// Now returns the service's clock reading.
func (s *Service) Now() time.Time { return s.now() }

// Session returns a session as stored, in any state.
func (s *Service) Session(ctx context.Context, id string) (store.Session, error) {
	return s.store.Session(ctx, id)
}

// Day and Month return the statistics periods t falls in.
func (s *Service) Day(t time.Time) string   { return t.In(s.loc).Format("2006-01-02") }
func (s *Service) Month(t time.Time) string { return t.In(s.loc).Format("2006-01") }

// App returns an app's settings, cached for up to Config.AppCacheTTL. An
// unknown app is an *imkit.Error with code 70020.
func (s *Service) App(ctx context.Context, sdkAppID uint64) (store.App, error) {
	now := s.now()
	s.mu.Lock()
	c, ok := s.apps[sdkAppID]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.app, nil
	}
	a, err := s.store.App(ctx, sdkAppID)
	if errors.Is(err, store.ErrNotFound) {
		return store.App{}, imkit.Errorf(imkit.ErrSvrSDKAppIDNotFound, "SDKAppID %d not found", sdkAppID)
	}
	if err != nil {
		return store.App{}, fmt.Errorf("load app %d: %w", sdkAppID, err)
	}
	s.mu.Lock()
	s.apps[sdkAppID] = cachedApp{app: a, expires: now.Add(s.ttl)}
	s.mu.Unlock()
	return a, nil
}

// ForgetApp drops an app from the cache, so that a changed setting applies
// to the next login.
func (s *Service) ForgetApp(sdkAppID uint64) {
	s.mu.Lock()
	delete(s.apps, sdkAppID)
	s.mu.Unlock()
}

// KickedError refuses a resume of a session that was kicked. It unwraps to an
// *imkit.Error with code 6208 (ErrKickedOffByOther).
type KickedError struct {
	Kick store.Kick
}

func (e *KickedError) Error() string { return e.Unwrap().Error() }

// Unwrap returns the *imkit.Error with code 6208.
func (e *KickedError) Unwrap() error {
	return imkit.Errorf(imkit.ErrKickedOffByOther, "kicked offline (%s) at %s", e.Kick.Reason, e.Kick.At.UTC().Format(time.RFC3339))
}

// Attach registers the connection of a session that is being logged in or
// resumed, where kicks look for connections (the hub, and with several
// nodes the registry). Login and Resume call it once the ticket is
// verified and before the store decides: a kick committed after that
// decision then finds the connection, and one committed before it is part
// of the decision. When Login or Resume then fails, the caller must
// unregister the connection.
type Attach func(store.Session)

// Login verifies a login request, starts a new session under the app's login
// policy (kicking whatever the policy says), and returns the session and
// the newest seq of the user's mailbox. attach, when not nil, is called
// with the new session (its ID set) before it is stored.
func (s *Service) Login(ctx context.Context, req *protocol.LoginRequest, attach Attach) (store.Session, uint64, error) {
	now := s.now()
	sess := store.Session{
		App:        req.SDKAppID,
		UserID:     req.UserID,
		Platform:   req.Platform,
		InstanceID: req.InstanceID,
	}
	app, t, err := s.verify(ctx, req, now, "")
	if err != nil {
		s.emit(ctx, Event{Type: EventLoginFailed, Session: sess, Code: imkit.ErrorCode(err), At: now})
		return store.Session{}, 0, err
	}
	sess.ID = newSessionID()
	sess.LoginAt = now
	sess.TicketTime = t.Time
	sess.TicketExpire = t.ExpiresAt().Unix()
	sess.State = store.SessionActive
	if attach != nil {
		attach(sess)
	}
	policy := PolicyOf(&app)
	res, err := s.store.Login(ctx, store.LoginParams{
		Session: sess,
		Day:     s.Day(now),
		Month:   s.Month(now),
		Decide: func(u store.User, active []store.Session) ([]store.Kicked, error) {
			if t.Time < u.RevokedBefore {
				return nil, imkit.Errorf(imkit.ErrSvrInvalidUserSig, "the ticket was signed before the user's sessions were revoked; sign a new one")
			}
			return policy.Admit(active, &sess, store.Kick{Platform: sess.Platform, At: now}), nil
		},
	})
	if err != nil {
		if _, ok := errors.AsType[*imkit.Error](err); !ok {
			err = fmt.Errorf("login %s: %w", req.UserID, err)
		}
		s.emit(ctx, Event{Type: EventLoginFailed, Session: sess, Code: imkit.ErrorCode(err), At: now})
		return store.Session{}, 0, err
	}
	if len(res.Kicked) > 0 && s.notifier != nil {
		s.notifier.Kicked(ctx, res.Kicked)
	}
	s.emit(ctx, Event{Type: EventLogin, Session: sess, Kicked: res.Kicked, At: now})
	return sess, res.MaxSeq, nil
}

// Resume continues req.SessionID on a new connection. It refuses a session
// that was kicked (*KickedError, 6208), whose ticket expired (70001; the
// session ends) or that ended otherwise (6014), and another instance's
// (70402). attach, when not nil, is called with the session as asked for
// (ID, app, user, platform, instance) once the ticket is verified and the
// session found resumable, before it is read again for the decision; a
// refused resume is never attached.
func (s *Service) Resume(ctx context.Context, req *protocol.LoginRequest, attach Attach) (store.Session, error) {
	now := s.now()
	asked := store.Session{ID: req.SessionID, App: req.SDKAppID, UserID: req.UserID, Platform: req.Platform, InstanceID: req.InstanceID}
	sess, err := s.resume(ctx, req, now, func() {
		if attach != nil {
			attach(asked)
		}
	})
	if err != nil {
		s.emit(ctx, Event{Type: EventLoginFailed, Session: asked, Code: imkit.ErrorCode(err), At: now})
		return store.Session{}, err
	}
	s.emit(ctx, Event{Type: EventResume, Session: sess, At: now})
	return sess, nil
}

func (s *Service) resume(ctx context.Context, req *protocol.LoginRequest, now time.Time, attach func()) (store.Session, error) {
	_, t, verr := s.verify(ctx, req, now, "")
	if verr != nil && imkit.ErrorCode(verr) != imkit.ErrSvrUserSigExpired {
		return store.Session{}, verr
	}
	sess, err := s.resumable(ctx, req, now)
	if err != nil {
		return store.Session{}, err
	}
	if verr == nil {
		// Only a resume that would be taken is attached: attaching replaces
		// (closes) the session's live connection. Then the session is read
		// again, since a kick committed between the read and the attach
		// found no connection to tell.
		attach()
		if sess, err = s.resumable(ctx, req, now); err != nil {
			return store.Session{}, err
		}
	}
	if verr != nil { // the ticket ran out while the instance was away
		if _, err := s.store.EndSession(ctx, sess.ID, store.SessionExpired, now); err != nil {
			return store.Session{}, fmt.Errorf("resume: end expired session: %w", err)
		}
		sess.State, sess.EndedAt = store.SessionExpired, now
		s.emit(ctx, Event{Type: EventExpired, Session: sess, At: now})
		return store.Session{}, verr
	}
	if exp := t.ExpiresAt().Unix(); exp != sess.TicketExpire || t.Time != sess.TicketTime {
		// The instance comes back with a renewed ticket.
		if err := s.store.RenewSession(ctx, sess.ID, t.Time, exp); err != nil {
			return store.Session{}, s.endedOr(ctx, sess.ID, fmt.Errorf("resume: record ticket: %w", err))
		}
		sess.TicketTime, sess.TicketExpire = t.Time, exp
	}
	return sess, nil
}

// resumable loads the session req asks to resume, and refuses it when it
// is another instance's or has ended.
func (s *Service) resumable(ctx context.Context, req *protocol.LoginRequest, now time.Time) (store.Session, error) {
	sess, err := s.store.Session(ctx, req.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		// Purged long ago, or from another database: refuse for good, since
		// letting it log in again could kick a newer instance.
		return store.Session{}, &KickedError{Kick: store.Kick{At: now}}
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("resume: load session: %w", err)
	}
	if sess.App != req.SDKAppID || sess.UserID != req.UserID || sess.InstanceID != req.InstanceID {
		return store.Session{}, imkit.Errorf(imkit.ErrSvrInvalidParameters, "the session belongs to another instance")
	}
	switch sess.State {
	case store.SessionKicked:
		return store.Session{}, &KickedError{Kick: sess.Kick}
	case store.SessionExpired:
		return store.Session{}, imkit.Errorf(imkit.ErrSvrUserSigExpired, "the session's ticket expired")
	case store.SessionLoggedOut:
		return store.Session{}, imkit.Errorf(imkit.ErrSDKNotLoggedIn, "the session was logged out")
	}
	return sess, nil
}

// endedOr returns why a session is no longer active if it is not, else err:
// the session may have been kicked between loading and updating it.
func (s *Service) endedOr(ctx context.Context, id string, err error) error {
	sess, lerr := s.store.Session(ctx, id)
	if lerr != nil || sess.State == store.SessionActive {
		return err
	}
	switch sess.State {
	case store.SessionKicked:
		return &KickedError{Kick: sess.Kick}
	case store.SessionExpired:
		return imkit.Errorf(imkit.ErrSvrUserSigExpired, "the session's ticket expired")
	}
	return imkit.Errorf(imkit.ErrSDKNotLoggedIn, "the session has ended")
}

// verify checks the request's fields and ticket against the app. Bad
// tickets count against the user from the client's address and against the
// address, or for a renewal (renewing: the session's ID) against the
// session only.
func (s *Service) verify(ctx context.Context, req *protocol.LoginRequest, now time.Time, renewing string) (store.App, *usersig.Ticket, error) {
	if err := imkit.ValidateUserID(req.UserID); err != nil {
		return store.App{}, nil, imkit.Errorf(imkit.ErrSvrInvalidParameters, "%s", imkit.ErrorMessage(err))
	}
	if !req.Platform.Valid() {
		return store.App{}, nil, imkit.Errorf(imkit.ErrSvrInvalidParameters, "unknown platform")
	}
	if req.InstanceID == "" || len(req.InstanceID) > 64 {
		return store.App{}, nil, imkit.Errorf(imkit.ErrSvrInvalidParameters, "instanceID must be 1..64 bytes")
	}
	app, err := s.App(ctx, req.SDKAppID)
	if err != nil {
		return store.App{}, nil, err
	}
	var keyBuf [2]lockKey
	keys := keyBuf[:0]
	if renewing != "" {
		keys = append(keys, userKey(req.SDKAppID, req.UserID, "session "+renewing))
	} else {
		from := ClientIP(ctx)
		keys = append(keys, userKey(req.SDKAppID, req.UserID, from), addrKey(from))
	}
	if until, locked := s.lockout.locked(now, keys...); locked {
		return store.App{}, nil, imkit.Errorf(imkit.ErrSvrAccountFreqLimit, "too many bad tickets for this user from this address; retry after %s", until.UTC().Format(time.RFC3339))
	}
	t, err := usersig.Decode(req.UserSig)
	if err == nil {
		err = t.Check(req.SDKAppID, app.Key, req.UserID, now)
	}
	if imkit.ErrorCode(err) == imkit.ErrSvrUserSigExpired {
		// Tencent's order checks expiry before the signature; an expired
		// ticket is only reported as such when it is genuine.
		if serr := t.Check(req.SDKAppID, app.Key, req.UserID, t.ExpiresAt()); serr != nil {
			err = serr
		}
	}
	switch imkit.ErrorCode(err) {
	case imkit.OK:
		// Genuine, but signed for too long or in the future: the app
		// backend's doing, not a guess; not counted as a failure.
		if err := s.checkTimes(t, now); err != nil {
			return store.App{}, nil, err
		}
	case imkit.ErrSvrUserSigExpired:
		return app, t, err
	case imkit.ErrSvrUserSigCheckFailed, imkit.ErrSvrUserSigMismatchKey,
		imkit.ErrSvrUserSigMismatchID, imkit.ErrSvrUserSigMismatchApp:
		s.lockout.fail(now, keys...)
		return store.App{}, nil, err
	default:
		return store.App{}, nil, err
	}
	s.lockout.succeed(keys[0])
	return app, t, nil
}

// checkTimes refuses a ticket valid for longer than the cap, or signed
// further in the future than the clock skew allows.
func (s *Service) checkTimes(t *usersig.Ticket, now time.Time) error {
	if s.maxLife > 0 && t.Expire > s.maxLife {
		return imkit.Errorf(imkit.ErrSvrUserSigCheckFailed, "the ticket is valid for %d seconds, more than the %d this server allows; sign a shorter one", t.Expire, s.maxLife)
	}
	if s.skew >= 0 && t.Time > now.Unix()+s.skew {
		return imkit.Errorf(imkit.ErrSvrUserSigCheckFailed, "the ticket is signed %d seconds in the future, more than the %d this server allows for clock skew; check the clock of the server that signs tickets", t.Time-now.Unix(), s.skew)
	}
	return nil
}

// Logout ends a session at the client's request.
func (s *Service) Logout(ctx context.Context, sess store.Session) error {
	now := s.now()
	ended, err := s.store.EndSession(ctx, sess.ID, store.SessionLoggedOut, now)
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if ended {
		s.emit(ctx, Event{Type: EventLogout, Session: sess, At: now})
	}
	return nil
}

// Renew verifies a new ticket for an active session and records its expiry,
// which it returns (Unix seconds).
func (s *Service) Renew(ctx context.Context, sess store.Session, userSig string) (int64, error) {
	now := s.now()
	req := protocol.LoginRequest{SDKAppID: sess.App, UserID: sess.UserID, UserSig: userSig, Platform: sess.Platform, InstanceID: sess.InstanceID}
	_, t, err := s.verify(ctx, &req, now, sess.ID)
	if err != nil {
		return 0, err
	}
	u, err := s.store.User(ctx, sess.App, sess.UserID)
	if err != nil {
		return 0, fmt.Errorf("renew: %w", err)
	}
	if t.Time < u.RevokedBefore {
		return 0, imkit.Errorf(imkit.ErrSvrInvalidUserSig, "the ticket was signed before the user's sessions were revoked")
	}
	exp := t.ExpiresAt().Unix()
	if err := s.store.RenewSession(ctx, sess.ID, t.Time, exp); err != nil {
		return 0, s.endedOr(ctx, sess.ID, fmt.Errorf("renew: %w", err))
	}
	return exp, nil
}

// Expire ends a session whose ticket ran out.
func (s *Service) Expire(ctx context.Context, sess store.Session) error {
	now := s.now()
	ended, err := s.store.EndSession(ctx, sess.ID, store.SessionExpired, now)
	if err != nil {
		return fmt.Errorf("expire: %w", err)
	}
	if ended {
		sess.State, sess.EndedAt = store.SessionExpired, now
		s.emit(ctx, Event{Type: EventExpired, Session: sess, At: now})
	}
	return nil
}

// KickUser ends every session of a user as kicked by an admin and revokes
// the tickets signed before now. An unknown user is an *imkit.Error with code
// 70107.
func (s *Service) KickUser(ctx context.Context, app uint64, userID string) ([]store.Session, error) {
	now := s.now()
	kicked, err := s.store.KickUser(ctx, app, userID, store.Kick{Reason: imkit.KickAdmin, At: now}, now.Unix())
	if errors.Is(err, store.ErrNotFound) {
		return nil, imkit.Errorf(imkit.ErrSvrAccountNotFound, "user %q not found", userID)
	}
	if err != nil {
		return nil, fmt.Errorf("kick %s: %w", userID, err)
	}
	if len(kicked) > 0 && s.notifier != nil {
		s.notifier.Kicked(ctx, kicked)
	}
	s.emit(ctx, Event{Type: EventKicked, Session: store.Session{App: app, UserID: userID}, Kicked: kicked, At: now})
	return kicked, nil
}

func (s *Service) emit(ctx context.Context, e Event) {
	if s.onEvent != nil {
		e.ClientIP = ClientIP(ctx)
		s.onEvent(e)
	}
}

type clientIPKey struct{}

// WithClientIP returns ctx carrying the address of the client whose
// connection a call serves: the events of the call report it.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP returns the client address ctx carries, or "".
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// newSessionID returns 128 random bits in hex: unguessable, since a session
// ID together with a valid ticket resumes a session.
func newSessionID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
