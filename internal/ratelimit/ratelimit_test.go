package ratelimit

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	var b Bucket
	t0 := time.Unix(1000, 0)
	for i := range 5 {
		if !b.Take(t0, 10, 5) {
			t.Fatalf("take %d of a full bucket of 5: refused", i+1)
		}
	}
	if b.Take(t0, 10, 5) {
		t.Fatal("a sixth take at once: allowed, want refused")
	}
	// 10 a second: one more token every 100 ms.
	if b.Take(t0.Add(50*time.Millisecond), 10, 5) {
		t.Fatal("after 50 ms: allowed, want refused")
	}
	if !b.Take(t0.Add(100*time.Millisecond), 10, 5) {
		t.Fatal("after 100 ms: refused, want allowed")
	}
	// A long pause fills it up to burst, no more.
	later := t0.Add(time.Hour)
	for i := range 5 {
		if !b.Take(later, 10, 5) {
			t.Fatalf("take %d after an hour: refused", i+1)
		}
	}
	if b.Take(later, 10, 5) {
		t.Fatal("a sixth take after an hour: allowed, want refused (burst 5)")
	}
	// A clock that goes back gives nothing.
	if b.Take(later.Add(-time.Minute), 10, 5) {
		t.Fatal("after the clock went back: allowed, want refused")
	}
}
