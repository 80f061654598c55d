package redis

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imkit/imkit/internal/gateway"
	"github.com/imkit/imkit/internal/store"
)

// A resume on a new connection is listed beside the one it replaces until
// that one closes; only the newer is registered again.
func TestNewestPerSession(t *testing.T) {
	reg := func(session string, conn uint64) gateway.Registration {
		return gateway.Registration{Session: store.Session{ID: session}, Conn: conn}
	}
	got := newestPerSession([]gateway.Registration{reg("a", 7), reg("b", 3), reg("a", 9), reg("a", 8), reg("c", 1)})
	want := []gateway.Registration{reg("a", 9), reg("b", 3), reg("c", 1)}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("newestPerSession (-want +got):\n%s", d)
	}
}
