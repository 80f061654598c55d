package session

import (
	"testing"
	"time"
)

func TestLockout(t *testing.T) {
	l := newLockout(3, 100, time.Minute, 10*time.Second)
	t0 := time.Unix(1_760_000_000, 0)
	locked := func(at time.Duration) bool {
		_, ok := l.locked(t0.Add(at), userKey(1, "u", ""))
		return ok
	}
	l.fail(t0, userKey(1, "u", ""))
	l.fail(t0.Add(time.Second), userKey(1, "u", ""))
	if locked(2 * time.Second) {
		t.Fatal("locked after 2 failures, want 3")
	}
	l.fail(t0.Add(2*time.Second), userKey(1, "u", ""))
	if !locked(2 * time.Second) {
		t.Fatal("not locked after 3 failures")
	}
	if _, ok := l.locked(t0.Add(2*time.Second), userKey(1, "other", "")); ok {
		t.Fatal("another user is locked too")
	}
	if _, ok := l.locked(t0.Add(2*time.Second), userKey(2, "u", "")); ok {
		t.Fatal("the same userID of another app is locked too")
	}
	if !locked(11 * time.Second) {
		t.Fatal("unlocked before the lock duration")
	}
	if locked(12 * time.Second) {
		t.Fatal("still locked after the lock duration")
	}
	// After the lock, a success forgets everything.
	l.succeed(userKey(1, "u", ""))
	l.fail(t0.Add(13*time.Second), userKey(1, "u", ""))
	l.fail(t0.Add(14*time.Second), userKey(1, "u", ""))
	if locked(14 * time.Second) {
		t.Fatal("locked after 2 failures following a success")
	}
}

func TestLockoutWindow(t *testing.T) {
	l := newLockout(3, 100, time.Minute, 10*time.Second)
	t0 := time.Unix(1_760_000_000, 0)
	l.fail(t0, userKey(1, "u", ""))
	l.fail(t0.Add(30*time.Second), userKey(1, "u", ""))
	l.fail(t0.Add(61*time.Second), userKey(1, "u", "")) // the first is outside the window
	if _, ok := l.locked(t0.Add(61*time.Second), userKey(1, "u", "")); ok {
		t.Fatal("locked by failures spread over more than the window")
	}
}

func TestLockoutBounded(t *testing.T) {
	l := newLockout(3, 100, time.Minute, time.Minute)
	t0 := time.Unix(1_760_000_000, 0)
	l.fail(t0, userKey(1, "victim", ""))
	l.fail(t0, userKey(1, "victim", ""))
	l.fail(t0, userKey(1, "victim", ""))
	for i := range maxTrackedKeys + 10 {
		l.fail(t0.Add(time.Second), userKey(1, string(rune('a'+i%26))+string(rune(i)), ""))
	}
	if n := len(l.keys); n > maxTrackedKeys {
		t.Fatalf("%d keys tracked, more than %d", n, maxTrackedKeys)
	}
	if _, ok := l.locked(t0.Add(2*time.Second), userKey(1, "victim", "")); !ok {
		t.Fatal("a flood of other userIDs unlocked a locked user")
	}
}
