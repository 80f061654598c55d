package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h Hist
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("empty: p50 = %v, want 0", got)
	}
	var xs []time.Duration
	for range 100000 {
		d := time.Duration(rand.ExpFloat64() * float64(300*time.Microsecond))
		xs = append(xs, d)
		h.Record(d)
	}
	slices.Sort(xs)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := xs[int(q*float64(len(xs)))-1]
		got := h.Quantile(q)
		if diff := float64(got-want) / float64(want); diff < -0.02 || diff > 0.02 {
			t.Errorf("q%v = %v, want %v within 2%%", q, got, want)
		}
	}
	if h.Max() != xs[len(xs)-1] || h.Count() != int64(len(xs)) {
		t.Errorf("max %v count %d, want %v %d", h.Max(), h.Count(), xs[len(xs)-1], len(xs))
	}
}

func TestHistBuckets(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<40; v = v*9/8 + 1 {
		i := histBucket(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("bucket(%d) = %d after %d", v, i, prev)
		}
		if mid := histValue(i); mid < v-v/60-1 || mid > v+v/60+1 {
			t.Fatalf("value(bucket(%d)) = %d, more than 1.6%% off", v, mid)
		}
		prev = i
	}
	if i := histBucket(1<<63 - 1); i >= histBuckets {
		t.Fatalf("bucket(max) = %d, out of range", i)
	}
}

func TestMedian(t *testing.T) {
	if got := Median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("Median(3,1,2) = %v", got)
	}
	if got := Median([]int64{4, 1, 3, 2}); got != 2 {
		t.Errorf("Median(4,1,3,2) = %v", got)
	}
}

func TestWSURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080":         "ws://127.0.0.1:8080/ws",
		"http://127.0.0.1:8080/": "ws://127.0.0.1:8080/ws",
		"ws://127.0.0.1:8080/ws": "ws://127.0.0.1:8080/ws",
		"https://example.com":    "wss://example.com/ws",
	} {
		if got := WSURL(in); got != want {
			t.Errorf("WSURL(%q) = %q, want %q", in, got, want)
		}
	}
}
