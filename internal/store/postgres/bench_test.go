package postgres_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/postgres"
)

// The benchmarks are those of the sqlite engine, against the test
// PostgreSQL (see imkittest.PostgresDSN); they skip when it is unreachable.
// Each reports a rate per wall second; the database server's CPU is not
// the benchmark process's, so there is no CPU time per op here.

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

func benchLogin(b *testing.B, db *postgres.DB, n int64, user string) {
	now := time.Now()
	_, err := db.Login(b.Context(), store.LoginParams{
		Session: store.Session{
			ID: fmt.Sprint("s", n), App: app, UserID: user, Platform: imkit.PlatformWeb,
			InstanceID: "i", LoginAt: now, TicketTime: now.Unix(), TicketExpire: now.Unix() + 86400,
		},
		Day: "2025-03-14", Month: "2025-03", Decide: benchDecide,
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLogin logs distinct users in: new ones (the account is created)
// and returning ones (the account exists, the previous session is kicked).
func BenchmarkLogin(b *testing.B) {
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
			db := openTest(b, postgres.Options{})
			var n int64
			for b.Loop() {
				n++
				benchLogin(b, db, n, user(n))
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
		})
		b.Run(kind+"/parallel", func(b *testing.B) {
			db := openTest(b, postgres.Options{})
			var n atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					benchLogin(b, db, i, user(i))
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
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

// BenchmarkAppendMessages stores batches of messages among 10,000 users.
func BenchmarkAppendMessages(b *testing.B) {
	for _, size := range []int{1, 64, 256} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			db := openTest(b, postgres.Options{})
			next := 0
			for b.Loop() {
				msgs := benchMessages(next, size, 10000)
				next += size
				if err := db.AppendMessages(b.Context(), app, msgs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkSync reads 100 messages at a time from a mailbox of 10,000.
func BenchmarkSync(b *testing.B) {
	db := openTest(b, postgres.Options{})
	const total = 10000
	for i := 0; i < total; i += 250 {
		msgs := benchMessages(i, 250, 2) // user0 and user1 only
		if err := db.AppendMessages(b.Context(), app, msgs); err != nil {
			b.Fatal(err)
		}
	}
	var after uint64
	for b.Loop() {
		es, _, err := db.Sync(b.Context(), app, "user0", after, 100)
		if err != nil {
			b.Fatal(err)
		}
		if len(es) != 100 {
			b.Fatalf("Sync returned %d messages, want 100", len(es))
		}
		after = (after + 100) % (total - 100)
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "msgs/s")
}
