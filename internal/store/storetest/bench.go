package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
)

// The benchmarks every engine runs, from its own Benchmark functions: the
// same work, so that the engines' figures compare.

// BenchOpen opens an empty store for a benchmark, closed when it ends.
type BenchOpen func(b *testing.B) store.Store

// Meter starts measuring and returns the function that reports, at the end,
// n items per wall second as unit, and what else the engine can tell (the
// SQLite engine: CPU time per op, its work being in the benchmark process).
type Meter func(b *testing.B) (report func(n int, unit string))

// WallRate is the Meter of a rate per wall second only.
func WallRate(b *testing.B) func(n int, unit string) {
	return func(n int, unit string) { b.ReportMetric(float64(n)/b.Elapsed().Seconds(), unit) }
}

// benchDecide keeps one session per platform, as the default limits do.
func benchDecide(u store.User, active []store.Session) ([]store.Kicked, error) {
	var ks []store.Kicked
	for _, s := range active {
		if s.Platform == imkit.PlatformWeb {
			ks = append(ks, store.Kicked{SessionID: s.ID, Kick: store.Kick{Reason: imkit.KickMultiInstance, Platform: imkit.PlatformWeb, At: time.Now()}})
		}
	}
	return ks, nil
}

func benchLogin(b *testing.B, s store.Store, n int64, user string) {
	now := time.Now()
	_, err := s.Login(b.Context(), store.LoginParams{
		Session: store.Session{
			ID: fmt.Sprint("s", n), App: app1, UserID: user, Platform: imkit.PlatformWeb,
			InstanceID: "i", LoginAt: now, TicketTime: now.Unix(), TicketExpire: now.Unix() + 86400,
		},
		Day: "2025-03-14", Month: "2025-03", Decide: benchDecide,
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchLogin logs distinct users in: new ones (the account is created)
// and returning ones (the account exists, the previous session is kicked),
// one at a time and from 4 goroutines per core.
func BenchLogin(b *testing.B, open BenchOpen, meter Meter) {
	for _, returning := range []bool{false, true} {
		kind := "new"
		if returning {
			kind = "returning"
		}
		user := func(n int64) string {
			if returning {
				n %= 1000
			}
			return fmt.Sprint("user", n)
		}
		b.Run(kind+"/sequential", func(b *testing.B) {
			s := open(b)
			var n int64
			report := meter(b)
			for b.Loop() {
				n++
				benchLogin(b, s, n, user(n))
			}
			report(b.N, "logins/s")
		})
		b.Run(kind+"/parallel", func(b *testing.B) {
			s := open(b)
			var n atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			report := meter(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					benchLogin(b, s, i, user(i))
				}
			})
			report(b.N, "logins/s")
		})
	}
}

// benchMessages returns messages start.. start+n-1 among users users, as
// real traffic has them: the sender of each is a pseudo-random user, the
// receiver one of its 7 contacts, the client message ID pseudo-random.
func benchMessages(start, n, users int) []*store.Message {
	msgs := make([]*store.Message, n)
	now := time.Now().UnixMilli()
	for i := range msgs {
		k := start + i
		h := splitmix(uint64(k))
		from := int(h % uint64(users))
		to := (from + 1 + int(h>>32%uint64(min(7, users-1)))) % users
		msgs[i] = &store.Message{
			ID:          fmt.Sprint("m", k),
			ClientMsgID: fmt.Sprintf("%016x", splitmix(h)),
			From:        fmt.Sprint("user", from),
			To:          fmt.Sprint("user", to),
			Random:      uint32(k),
			Time:        now,
			Body:        []byte(`[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hello, how are you doing today?"}}]`),
		}
	}
	return msgs
}

// splitmix is SplitMix64's mixing function.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// BenchAppendMessages stores batches of messages among 10,000 users.
func BenchAppendMessages(b *testing.B, open BenchOpen, meter Meter) {
	for _, size := range []int{1, 64, 256} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			s := open(b)
			next := 0
			report := meter(b)
			for b.Loop() {
				msgs := benchMessages(next, size, 10000)
				next += size
				if err := s.AppendMessages(b.Context(), app1, msgs); err != nil {
					b.Fatal(err)
				}
			}
			report(b.N*size, "msgs/s")
		})
	}
}

// BenchSync reads 100 messages at a time from a mailbox of 10,000.
func BenchSync(b *testing.B, open BenchOpen, meter Meter) {
	s := open(b)
	const total = 10000
	for i := 0; i < total; i += 250 {
		msgs := benchMessages(i, 250, 2) // user0 and user1 only
		if err := s.AppendMessages(b.Context(), app1, msgs); err != nil {
			b.Fatal(err)
		}
	}
	var after uint64
	report := meter(b)
	for b.Loop() {
		es, _, err := s.Sync(b.Context(), app1, "user0", after, 100)
		if err != nil {
			b.Fatal(err)
		}
		if len(es) != 100 {
			b.Fatalf("Sync returned %d messages, want 100", len(es))
		}
		after = (after + 100) % (total - 100)
	}
	report(b.N*100, "msgs/s")
}
