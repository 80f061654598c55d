package gateway

import (
	"math"
	"net"
	"testing"
	"time"
)

// A ticket valid for ever (TLS.expire = MaxInt64) arms its timers far in
// the future. (Before, time.Unix overflowed: the expiry was in the past and
// "expiring" was pushed at once.)
func TestTimersOfATicketValidForEver(t *testing.T) {
	g := New(Config{})
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := newConn(g, a, "127.0.0.1")
	now := time.Now()
	for _, exp := range []int64{math.MaxInt64, math.MaxInt64 - 1, now.Unix() + 1<<40} {
		c.mu.Lock()
		c.loggedIn = true
		c.sess.TicketExpire = exp
		c.setTimersLocked(now)
		got := c.expireAt
		c.stopTimersLocked()
		c.mu.Unlock()
		if left := got.Sub(now); left < 50*365*24*time.Hour {
			t.Errorf("TicketExpire %d: the session ends in %v, want decades from now", exp, left)
		}
	}
}
