package bench

import (
	"math/bits"
	"slices"
	"sync/atomic"
	"time"
)

// Hist is a latency histogram safe for concurrent use without locks:
// log-linear buckets, 64 per power of two, so a quantile is within about
// 1.6% of the true value. Its zero value is empty and ready.
type Hist struct {
	counts [histBuckets]atomic.Int64
	n      atomic.Int64
	max    atomic.Int64
}

const (
	histSub     = 64 // buckets per power of two
	histBuckets = 2*histSub + (64-7)*histSub
)

func histBucket(v int64) int {
	if v < 2*histSub {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - 7 // v>>e is in [64, 128)
	return 2*histSub + (e-1)*histSub + int(v>>e) - histSub
}

// histValue returns the middle of bucket i.
func histValue(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	e := (i-2*histSub)/histSub + 1
	m := int64((i-2*histSub)%histSub + histSub)
	return m<<e + int64(1)<<(e-1)
}

// Record adds a duration.
func (h *Hist) Record(d time.Duration) {
	v := int64(d)
	h.counts[histBucket(v)].Add(1)
	h.n.Add(1)
	for m := h.max.Load(); v > m && !h.max.CompareAndSwap(m, v); m = h.max.Load() {
	}
}

// Count returns the number of durations recorded.
func (h *Hist) Count() int64 { return h.n.Load() }

// Max returns the largest duration recorded.
func (h *Hist) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the q-quantile (0 < q <= 1), 0 when empty.
func (h *Hist) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := int64(q*float64(n) + 0.5)
	rank = min(max(rank, 1), n)
	var seen int64
	for i := range h.counts {
		if seen += h.counts[i].Load(); seen >= rank {
			return min(time.Duration(histValue(i)), h.Max())
		}
	}
	return h.Max()
}

// Median returns the median of xs (0 when empty).
func Median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
