// Package store defines imkit's durable state: apps, users, sessions, daily
// statistics, messages and conversations, and the Store interface that every
// storage engine implements (sqlite.DB embedded, postgres.DB for several
// nodes). Package storetest holds the conformance suite both must pass.
//
// The store applies no policy of its own. The one decision it runs is the
// login policy, passed in as a function and called inside the login's
// transaction, so that a policy is applied atomically per user, also across
// nodes sharing one PostgreSQL.
//
// Times are stored with millisecond precision and read back in UTC; the zero
// time.Time stays zero. A limit of zero or less returns nothing.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/imkit/imkit"
)

// Errors a Store returns; callers map them to codes.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

// Store is everything the server keeps on disk.
type Store interface {
	// CreateApp adds an app; ErrExists when its SDKAppID is taken.
	CreateApp(ctx context.Context, a App) error
	// App returns one app; ErrNotFound when unknown.
	App(ctx context.Context, sdkAppID uint64) (App, error)
	// Apps lists every app by SDKAppID.
	Apps(ctx context.Context) ([]App, error)
	// UpdateApp replaces the policy, limits and webhook of an existing app
	// (not its key, admin or creation time); ErrNotFound when unknown.
	UpdateApp(ctx context.Context, a App) error

	// User returns one account; ErrNotFound when unknown.
	User(ctx context.Context, app uint64, userID string) (User, error)
	// ImportUser creates the account (Imported, with u's Nick, FaceURL and
	// CreatedAt) or, when it exists, updates its Nick and FaceURL; created
	// reports which. A new account counts as a new user of day.
	ImportUser(ctx context.Context, u User, day string) (created bool, err error)
	// DeleteUser removes the account with its own mailbox and conversations,
	// ends its active sessions as kicked by an admin at time at, and keeps its
	// messages in its peers' mailboxes; ErrNotFound when unknown. It revokes
	// the tickets signed before at: an account of the same ID made again
	// later (by a login, an import or a message) starts with RevokedBefore
	// at (in Unix seconds), or the deleted account's, if later.
	DeleteUser(ctx context.Context, app uint64, userID string, at time.Time) error

	// Login starts a session, atomically per user: it creates the user when
	// missing, loads the user's active sessions (oldest first), calls p.Decide
	// with them, ends each session Decide names as kicked, inserts p.Session
	// as active, and counts the login, the day's and the month's active user
	// and a new user. An error from Decide aborts the login: nothing is
	// written and Login returns that error. Decide runs inside the
	// transaction: it must be quick and must not call the Store.
	Login(ctx context.Context, p LoginParams) (LoginResult, error)
	// Session returns one session in any state; ErrNotFound when unknown.
	Session(ctx context.Context, id string) (Session, error)
	// ActiveSessions returns the active sessions of the users, oldest first.
	ActiveSessions(ctx context.Context, app uint64, userIDs []string) ([]Session, error)
	// EndSession moves an active session to state (LoggedOut or Expired) at
	// time at; ended is false when it was not active.
	EndSession(ctx context.Context, id string, state SessionState, at time.Time) (ended bool, err error)
	// RenewSession records a renewed ticket of an active session; ErrNotFound
	// when it is not active.
	RenewSession(ctx context.Context, id string, ticketTime, ticketExpire int64) error
	// KickUser ends every active session of the user as kicked with k, and
	// refuses from then on tickets signed before revokeBefore (Unix seconds;
	// a smaller value than the stored one is ignored); it returns the
	// sessions it ended, oldest first. ErrNotFound when the user is unknown.
	KickUser(ctx context.Context, app uint64, userID string, k Kick, revokeBefore int64) ([]Session, error)
	// KickedSince returns the sessions kicked (by a login or an admin, also
	// by an account deletion) at or after t, by the time they were kicked,
	// oldest first, at most limit: nodes that missed a kick find it here.
	KickedSince(ctx context.Context, t time.Time, limit int) ([]Session, error)
	// PurgeSessions deletes sessions that ended before t, and returns how many.
	PurgeSessions(ctx context.Context, t time.Time) (int, error)

	// RecordPeakOnline raises the day's peak of online instances to n.
	RecordPeakOnline(ctx context.Context, app uint64, day string, n int) error
	// DayStats returns the statistics of the days from first to last
	// (inclusive, "2006-01-02"), oldest first; days without activity are
	// present with zeros.
	DayStats(ctx context.Context, app uint64, first, last string) ([]DayStats, error)
	// MonthActiveUsers returns the distinct users who logged in during month
	// ("2006-01").
	MonthActiveUsers(ctx context.Context, app uint64, month string) (int, error)

	// AppendMessages stores messages in one transaction (group commit). For
	// each it creates the sender's and the receiver's account when missing
	// (CreatedAt: the message's Time), allocates the next
	// conversation sequence and the next sequence in the sender's and the
	// receiver's mailbox, and updates both users' conversations (the
	// receiver's unread count grows by one). A message whose (From,
	// ClientMsgID) is already stored, by this call or an earlier one, is not
	// stored again: its fields are filled from the stored one and Dup is set;
	// an empty ClientMsgID is never a duplicate. A message to oneself takes
	// one seq (FromSeq == ToSeq) and counts as unread for nobody. It counts
	// each new message, its sender and any new account for the message's Day.
	// On error nothing is stored and msgs are left unchanged.
	AppendMessages(ctx context.Context, app uint64, msgs []*Message) error
	// Sync returns the messages of owner's mailbox after seq, oldest first, at
	// most limit, and the mailbox's newest seq.
	Sync(ctx context.Context, app uint64, owner string, after uint64, limit int) (msgs []Entry, maxSeq uint64, err error)
	// MaxSeq returns the newest seq of owner's mailbox (0 when empty).
	MaxSeq(ctx context.Context, app uint64, owner string) (uint64, error)
	// History returns the messages of owner's conversation with peer whose
	// conversation sequence is below before (0: no bound), newest first, at
	// most limit.
	History(ctx context.Context, app uint64, owner, peer string, before uint64, limit int) ([]Entry, error)
	// Conversations returns owner's conversations ordered by last message,
	// newest first (equal Times by Peer, descending), starting after cursor
	// (the zero Cursor: from the newest), at most limit.
	Conversations(ctx context.Context, app uint64, owner string, after Cursor, limit int) ([]Conversation, error)
	// UnreadTotal returns the sum of the unread counts of owner's
	// conversations.
	UnreadTotal(ctx context.Context, app uint64, owner string) (int, error)
	// MarkRead marks owner's conversation with peer read up to convSeq (0 or
	// beyond the newest: all; ReadSeq never goes down), recounting its unread
	// messages, and returns it. ErrNotFound when there is no such
	// conversation.
	MarkRead(ctx context.Context, app uint64, owner, peer string, convSeq uint64) (Conversation, error)
	// DeleteConversation removes owner's conversation with peer from
	// owner's side only: it leaves owner's list, and its history and unread
	// count go with it; peer's side is untouched, and the mailboxes keep
	// their seqs. The next message between them starts owner's side afresh.
	// ErrNotFound when owner has no such conversation.
	DeleteConversation(ctx context.Context, app uint64, owner, peer string) error

	Close() error
}

// App is a tenant: an SDKAppID with its secret key and settings.
type App struct {
	SDKAppID uint64
	// Key is the secret key that signs UserSigs (HMAC key, used as text).
	Key string
	// Admin is the identifier whose UserSig the REST API requires.
	Admin  string
	Policy imkit.LoginPolicy
	// MaxInstances holds per-platform instance limits; a missing platform
	// allows 1.
	MaxInstances map[imkit.Platform]int
	// WebhookURL, when set, receives state-change callbacks.
	WebhookURL string
	CreatedAt  time.Time
}

// Limit returns how many instances of platform p the app allows at once.
func (a *App) Limit(p imkit.Platform) int {
	if n := a.MaxInstances[p]; n > 0 {
		return n
	}
	return 1
}

// User is an account of an app.
type User struct {
	App     uint64
	UserID  string
	Nick    string
	FaceURL string
	// Imported is true for accounts made by the REST API; false for accounts
	// made by a first login or a first message.
	Imported  bool
	CreatedAt time.Time
	// RevokedBefore refuses tickets signed before it (Unix seconds): set by an
	// admin kick.
	RevokedBefore int64
}

// SessionState is the life-cycle state of a session.
type SessionState uint8

// Session states.
const (
	SessionActive    SessionState = 1 // logged in; may be connected or reconnecting
	SessionLoggedOut SessionState = 2 // the client logged out
	SessionKicked    SessionState = 3 // ended by another login or an admin
	SessionExpired   SessionState = 4 // the ticket ran out
)

// String returns "active", "logged-out", "kicked" or "expired".
func (s SessionState) String() string {
	switch s {
	case SessionActive:
		return "active"
	case SessionLoggedOut:
		return "logged-out"
	case SessionKicked:
		return "kicked"
	case SessionExpired:
		return "expired"
	}
	return "unknown"
}

// Session is one login of one SDK instance.
type Session struct {
	ID         string
	App        uint64
	UserID     string
	Platform   imkit.Platform
	InstanceID string
	LoginAt    time.Time
	// TicketTime and TicketExpire are the ticket's signing time and the time
	// it runs out, in Unix seconds.
	TicketTime   int64
	TicketExpire int64
	State        SessionState
	// EndedAt is when the session left SessionActive.
	EndedAt time.Time
	// Kick says who ended the session, when State is SessionKicked.
	Kick Kick
}

// Kick records why and by whom a session was kicked.
type Kick struct {
	Reason imkit.KickReason
	// Platform is the kicking login's platform (none for an admin).
	Platform imkit.Platform
	At       time.Time
}

// Kicked names a session Decide ends, and how.
type Kicked struct {
	SessionID string
	Kick      Kick
}

// LoginParams are the arguments of Store.Login.
type LoginParams struct {
	// Session is the new session; its State is set to SessionActive.
	Session Session
	// Day and Month ("2006-01-02", "2006-01") are the statistics periods the
	// login counts in.
	Day, Month string
	// Decide applies the login policy: given the user (as stored, or as it
	// is about to be created) and its active sessions, oldest first, it names
	// the sessions to end, or refuses the login with an error.
	Decide func(u User, active []Session) ([]Kicked, error)
}

// LoginResult is what Store.Login did.
type LoginResult struct {
	User User
	// Created is true when this login created the account.
	Created bool
	// Kicked are the sessions the login ended, with their Kick filled in.
	Kicked []Session
	// MaxSeq is the newest seq of the user's mailbox (0 when empty), as
	// MaxSeq would return it: the login reply carries it.
	MaxSeq uint64
}

// DayStats are one day's statistics of an app.
type DayStats struct {
	Day string // "2006-01-02"
	// ActiveUsers is the day's distinct users with a successful login (DAU).
	ActiveUsers int
	// Logins counts successful logins (not resumes).
	Logins int
	// NewUsers counts accounts created.
	NewUsers int
	// PeakOnline is the most instances online at once.
	PeakOnline int
	// Messages counts messages stored (C2C, each once).
	Messages int
	// Senders is the day's distinct users who sent a message.
	Senders int
}

// Message is one C2C message.
type Message struct {
	// Set by the caller.
	ID          string // the server's message key
	ClientMsgID string // the sender's idempotency key
	From, To    string
	Random      uint32
	Time        int64  // Unix milliseconds
	Body        []byte // the elements, JSON; opaque to the store
	// Day ("2006-01-02") is the statistics day the message counts in, as
	// LoginParams.Day; empty: the UTC day of Time. Not stored.
	Day string

	// Set by AppendMessages.
	ConvSeq uint64
	FromSeq uint64 // seq in the sender's mailbox
	ToSeq   uint64 // seq in the receiver's mailbox
	Dup     bool
}

// Entry is a message as one owner's mailbox holds it.
type Entry struct {
	Seq uint64 // the message's seq in this owner's mailbox
	Message
}

// Conversation is one of a user's C2C conversations.
type Conversation struct {
	Peer    string
	Last    Entry  // the newest message
	ConvSeq uint64 // of the newest message
	ReadSeq uint64 // read up to and including
	Unread  int    // messages from Peer after ReadSeq
	Time    int64  // of the newest message, Unix milliseconds
}

// Cursor is a position in a conversation list: after the conversation with
// (Time, Peer) in newest-first order, that is, the conversations whose (Time,
// Peer) is below it.
type Cursor struct {
	Time int64
	Peer string
}
