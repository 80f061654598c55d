package session

import (
	"sync"
	"time"
)

// lockout counts failed tickets and locks out (70050) whoever keeps failing,
// so that nobody can guess at a user's tickets, without handing a stranger
// a way to lock a user out: failures are counted per user and client
// address (up to max, then that user is locked out from that address only),
// and per client address across users (up to maxAddr, then the address is
// locked out). A user's logins from elsewhere, and the renewals of their
// live sessions (counted per session), are not affected by someone else's
// failures. It is per node: with several nodes an attacker gets the tries
// of every node.
type lockout struct {
	max     int           // failures of one user from one address (or one session) allowed within window
	maxAddr int           // failures from one address, for any users, allowed within window
	window  time.Duration // failures older than this are forgotten
	lock    time.Duration // how long a key stays locked

	mu   sync.Mutex // guards keys
	keys map[lockKey]*failures
}

// lockKey is what failures are counted for: a user from an address (or in
// a session), or an address alone (user "").
type lockKey struct {
	app  uint64
	user string
	from string // the client's address, or "session " and a session ID
}

type failures struct {
	first       time.Time // of the current window
	n           int
	lockedUntil time.Time
}

func newLockout(max, maxAddr int, window, lock time.Duration) *lockout {
	return &lockout{max: max, maxAddr: maxAddr, window: window, lock: lock, keys: make(map[lockKey]*failures)}
}

// userKey and addrKey are the keys of a user from an address, and of the
// address. A renewal counts for its session: from is "session " + its ID.
func userKey(app uint64, user, from string) lockKey { return lockKey{app, user, from} }
func addrKey(from string) lockKey                   { return lockKey{from: from} }

// locked reports whether any of keys is locked out at now, and until when.
func (l *lockout) locked(now time.Time, keys ...lockKey) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var until time.Time
	for _, k := range keys {
		if f := l.keys[k]; f != nil && now.Before(f.lockedUntil) && f.lockedUntil.After(until) {
			until = f.lockedUntil
		}
	}
	return until, !until.IsZero()
}

// fail records a failed ticket at now against each of keys.
func (l *lockout) fail(now time.Time, keys ...lockKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		l.failLocked(k, now)
	}
}

func (l *lockout) failLocked(k lockKey, now time.Time) {
	f := l.keys[k]
	if f == nil || now.Sub(f.first) > l.window {
		if f != nil && now.Before(f.lockedUntil) {
			return
		}
		if len(l.keys) >= maxTrackedKeys {
			l.sweepLocked(now)
		}
		f = &failures{first: now}
		l.keys[k] = f
	}
	f.n++
	max := l.max
	if k.user == "" {
		max = l.maxAddr
	}
	if f.n >= max {
		f.lockedUntil = now.Add(l.lock)
		f.n = 0
		f.first = now
	}
}

// succeed forgets the failures of a user from an address (or in a
// session); those of the address stay.
func (l *lockout) succeed(k lockKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, k)
}

// maxTrackedKeys bounds the memory an attack on many userIDs can take.
const maxTrackedKeys = 100_000

// sweepLocked forgets entries that are neither locked nor within a window;
// if that frees nothing (a flood of distinct userIDs), it forgets the oldest
// unlocked half.
func (l *lockout) sweepLocked(now time.Time) {
	for k, f := range l.keys {
		if now.Sub(f.first) > l.window && !now.Before(f.lockedUntil) {
			delete(l.keys, k)
		}
	}
	if len(l.keys) < maxTrackedKeys {
		return
	}
	for k, f := range l.keys {
		if !now.Before(f.lockedUntil) {
			delete(l.keys, k)
		}
		if len(l.keys) < maxTrackedKeys/2 {
			return
		}
	}
}
