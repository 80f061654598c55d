package session

import (
	"sync"
	"time"
)

// lockout counts failed tickets per user and locks a user out (70050) after
// too many in a short time, so that nobody can guess at a user's tickets.
// It is per node: with several nodes an attacker gets Max tries per node.
type lockout struct {
	max    int           // failures allowed within window
	window time.Duration // failures older than this are forgotten
	lock   time.Duration // how long a user stays locked

	mu    sync.Mutex // guards users
	users map[lockKey]*failures
}

type lockKey struct {
	app  uint64
	user string
}

type failures struct {
	first       time.Time // of the current window
	n           int
	lockedUntil time.Time
}

func newLockout(max int, window, lock time.Duration) *lockout {
	return &lockout{max: max, window: window, lock: lock, users: make(map[lockKey]*failures)}
}

// locked reports whether the user is locked out at now, and until when.
func (l *lockout) locked(app uint64, user string, now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.users[lockKey{app, user}]
	if f == nil || !now.Before(f.lockedUntil) {
		return time.Time{}, false
	}
	return f.lockedUntil, true
}

// fail records a failed ticket at now.
func (l *lockout) fail(app uint64, user string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := lockKey{app, user}
	f := l.users[k]
	if f == nil || now.Sub(f.first) > l.window {
		if f != nil && now.Before(f.lockedUntil) {
			return
		}
		if len(l.users) >= maxTrackedUsers {
			l.sweepLocked(now)
		}
		f = &failures{first: now}
		l.users[k] = f
	}
	f.n++
	if f.n >= l.max {
		f.lockedUntil = now.Add(l.lock)
		f.n = 0
		f.first = now
	}
}

// succeed forgets the user's failures.
func (l *lockout) succeed(app uint64, user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.users, lockKey{app, user})
}

// maxTrackedUsers bounds the memory an attack on many userIDs can take.
const maxTrackedUsers = 100_000

// sweepLocked forgets entries that are neither locked nor within a window;
// if that frees nothing (a flood of distinct userIDs), it forgets the oldest
// unlocked half.
func (l *lockout) sweepLocked(now time.Time) {
	for k, f := range l.users {
		if now.Sub(f.first) > l.window && !now.Before(f.lockedUntil) {
			delete(l.users, k)
		}
	}
	if len(l.users) < maxTrackedUsers {
		return
	}
	for k, f := range l.users {
		if !now.Before(f.lockedUntil) {
			delete(l.users, k)
		}
		if len(l.users) < maxTrackedUsers/2 {
			return
		}
	}
}
