package session

import (
	"testing"
	"time"
)

func TestLockout(t *testing.T) {
	l := newLockout(3, time.Minute, 10*time.Second)
	t0 := time.Unix(1_760_000_000, 0)
	locked := func(at time.Duration) bool {
		_, ok := l.locked(1, "u", t0.Add(at))
		return ok
	}
	l.fail(1, "u", t0)
	l.fail(1, "u", t0.Add(time.Second))
	if locked(2 * time.Second) {
		t.Fatal("locked after 2 failures, want 3")
	}
	l.fail(1, "u", t0.Add(2*time.Second))
	if !locked(2 * time.Second) {
		t.Fatal("not locked after 3 failures")
	}
	if _, ok := l.locked(1, "other", t0.Add(2*time.Second)); ok {
		t.Fatal("another user is locked too")
	}
	if _, ok := l.locked(2, "u", t0.Add(2*time.Second)); ok {
		t.Fatal("the same userID of another app is locked too")
	}
	if !locked(11 * time.Second) {
		t.Fatal("unlocked before the lock duration")
	}
	if locked(12 * time.Second) {
		t.Fatal("still locked after the lock duration")
	}
	// After the lock, a success forgets everything.
	l.succeed(1, "u")
	l.fail(1, "u", t0.Add(13*time.Second))
	l.fail(1, "u", t0.Add(14*time.Second))
	if locked(14 * time.Second) {
		t.Fatal("locked after 2 failures following a success")
	}
}

func TestLockoutWindow(t *testing.T) {
	l := newLockout(3, time.Minute, 10*time.Second)
	t0 := time.Unix(1_760_000_000, 0)
	l.fail(1, "u", t0)
	l.fail(1, "u", t0.Add(30*time.Second))
	l.fail(1, "u", t0.Add(61*time.Second)) // the first is outside the window
	if _, ok := l.locked(1, "u", t0.Add(61*time.Second)); ok {
		t.Fatal("locked by failures spread over more than the window")
	}
}

func TestLockoutBounded(t *testing.T) {
	l := newLockout(3, time.Minute, time.Minute)
	t0 := time.Unix(1_760_000_000, 0)
	l.fail(1, "victim", t0)
	l.fail(1, "victim", t0)
	l.fail(1, "victim", t0)
	for i := range maxTrackedUsers + 10 {
		l.fail(1, string(rune('a'+i%26))+string(rune(i)), t0.Add(time.Second))
	}
	if n := len(l.users); n > maxTrackedUsers {
		t.Fatalf("%d users tracked, more than %d", n, maxTrackedUsers)
	}
	if _, ok := l.locked(1, "victim", t0.Add(2*time.Second)); !ok {
		t.Fatal("a flood of other userIDs unlocked a locked user")
	}
}
