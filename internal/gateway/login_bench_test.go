package gateway_test

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/imkittest"
)

// BenchmarkLogin is the full login round trip over loopback, from many
// clients at once: connect, WebSocket upgrade, login frame, reply, close.
// Each client logs one user in over and over, so after its first login
// every login also ends the user's previous session. The tickets are signed
// beforehand. Compare logins/s with the goal of 5,000 (imkit bench login
// measures the same against a server in its own process).
func BenchmarkLogin(b *testing.B) {
	srv := imkittest.RunServer(b)
	target := srv.Target()
	d := &bench.Dialer{Sources: bench.LoopbackSources(4)}
	var clients atomic.Int64
	b.SetParallelism(32) // 64 clients on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		user := "login" + strconv.FormatInt(clients.Add(1), 10)
		frame, err := bench.LoginFrame(target, user, "i-"+user, imkit.PlatformLinux)
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			c, err := d.Login(b.Context(), target.URL, user, frame)
			if err != nil {
				b.Error(err)
				return
			}
			c.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}
