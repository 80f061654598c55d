// Package ratelimit is a token bucket: the limit on the REST API's calls
// per app and on the requests of each client connection.
package ratelimit

import "time"

// Bucket holds up to burst tokens and gains rate tokens a second; each
// request takes one. Its zero value is a full bucket. It is not safe for
// concurrent use.
type Bucket struct {
	used float64 // tokens taken and not yet regained
	last time.Time
}

// Take takes a token at time now and reports whether there was one.
func (b *Bucket) Take(now time.Time, rate, burst float64) bool {
	if !b.last.IsZero() {
		if d := now.Sub(b.last); d > 0 {
			b.used = max(0, b.used-d.Seconds()*rate)
		} else {
			now = b.last // the clock went back: no tokens, no time lost
		}
	}
	b.last = now
	if b.used+1 > burst {
		return false
	}
	b.used++
	return true
}
