package redis_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/sdk"
)

// redisCommands returns how many commands the Redis server at addr has
// processed (INFO stats total_commands_processed).
func redisCommands(tb testing.TB, addr string) int64 {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("INFO stats\r\n")); err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "total_commands_processed:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatalf("INFO stats: no total_commands_processed (%v)", sc.Err())
	return 0
}

// percentiles reports p50 and p99 of lat in microseconds.
func percentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(lat[len(lat)/2]), "p50-µs")
	b.ReportMetric(us(lat[len(lat)*99/100]), "p99-µs")
}

// BenchmarkCrossNode measures, on a Redis of its own, with 2 and with 5
// nodes: the latency of a message from a client on the first node to a
// client on the last (SendMessage called to OnRecvNewMessage, one message
// at a time), the latency of a kick across nodes (the kicking login's
// success to OnKickedOffline, 0 when told first), and the Redis commands
// per message and per login, the nodes' once-a-second checks included.
// Routing, not broadcasting: the commands per message stay the same as
// nodes are added.
func BenchmarkCrossNode(b *testing.B) {
	for _, n := range []int{2, 5} {
		b.Run(fmt.Sprint(n, "nodes/message"), func(b *testing.B) {
			r := imkittest.StartRedis(b)
			nodes := imkittest.RunClusterOn(b, n, imkittest.PostgresDSN(b), r.Addr(), imkittest.NoRequestLimit())
			got := make(chan time.Time, 1)
			recv, err := sdk.New(imkittest.SDKAppID, sdk.Config{
				ServerURL: nodes[n-1].URL, Platform: imkit.PlatformAndroid,
				Listener: sdk.Listener{OnRecvNewMessage: func(*sdk.Message) { got <- time.Now() }},
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { recv.UnInit() })
			send, err := sdk.New(imkittest.SDKAppID, sdk.Config{ServerURL: nodes[0].URL, Platform: imkit.PlatformAndroid})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { send.UnInit() })
			ctx := context.Background()
			for _, s := range []struct {
				sdk  *sdk.SDK
				user string
			}{{recv, "receiver"}, {send, "sender"}} {
				if err := s.sdk.Login(ctx, s.user, imkittest.SignFor(b, s.user, time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			before := redisCommands(b, r.Addr())
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				if _, err := send.SendMessage(ctx, sdk.NewTextMessage(fmt.Sprint("m", i)), "receiver"); err != nil {
					b.Fatal(err)
				}
				select {
				case at := <-got:
					lat = append(lat, at.Sub(start))
				case <-time.After(10 * time.Second):
					b.Fatal("not received within 10s")
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(redisCommands(b, r.Addr())-before)/float64(b.N), "redis-cmds/msg")
			percentiles(b, lat)
		})
		b.Run(fmt.Sprint(n, "nodes/kick"), func(b *testing.B) {
			r := imkittest.StartRedis(b)
			nodes := imkittest.RunClusterOn(b, n, imkittest.PostgresDSN(b), r.Addr(), imkittest.NoRequestLimit())
			kicked := make(chan time.Time, 1)
			mk := func(url string, p imkit.Platform) *sdk.SDK {
				s, err := sdk.New(imkittest.SDKAppID, sdk.Config{
					ServerURL: url, Platform: p,
					Listener: sdk.Listener{OnKickedOffline: func(sdk.KickInfo) { kicked <- time.Now() }},
				})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.UnInit() })
				return s
			}
			// Two instances of one user on conflicting platforms, on the
			// first and the last node, take turns logging in.
			pair := [2]*sdk.SDK{mk(nodes[0].URL, imkit.PlatformAndroid), mk(nodes[n-1].URL, imkit.PlatformIPhone)}
			sig := imkittest.SignFor(b, "alice", time.Hour)
			login := func(s *sdk.SDK) time.Time {
				if err := s.Login(context.Background(), "alice", sig); err != nil {
					b.Fatal(err)
				}
				return time.Now()
			}
			login(pair[0])
			lat := make([]time.Duration, 0, b.N)
			before := redisCommands(b, r.Addr())
			b.ResetTimer()
			for i := range b.N {
				ok := login(pair[(i+1)%2])
				select {
				case at := <-kicked:
					lat = append(lat, max(at.Sub(ok), 0))
				case <-time.After(10 * time.Second):
					b.Fatal("no kick within 10s")
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(redisCommands(b, r.Addr())-before)/float64(b.N), "redis-cmds/login")
			percentiles(b, lat)
		})
	}
}

// BenchmarkSendWhileRedisFrozen measures a send's latency (SendMessage
// called to its acknowledgement) between two users on one node of two,
// with Redis answering and with Redis frozen (SIGSTOP). The first send
// after the freeze is reported apart ("first-ms"): its acknowledgement
// waits on nothing of Redis either.
func BenchmarkSendWhileRedisFrozen(b *testing.B) {
	for _, frozen := range []bool{false, true} {
		name := "redis-up"
		if frozen {
			name = "redis-frozen"
		}
		b.Run(name, func(b *testing.B) {
			r := imkittest.StartRedis(b)
			nodes := imkittest.RunClusterOn(b, 2, imkittest.PostgresDSN(b), r.Addr(), imkittest.NoRequestLimit())
			ctx := context.Background()
			mk := func(user string) *sdk.SDK {
				s, err := sdk.New(imkittest.SDKAppID, sdk.Config{ServerURL: nodes[0].URL, Platform: imkit.PlatformAndroid})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.UnInit() })
				if err := s.Login(ctx, user, imkittest.SignFor(b, user, time.Hour)); err != nil {
					b.Fatal(err)
				}
				return s
			}
			send, _ := mk("sender"), mk("receiver")
			first := time.Duration(0)
			if frozen {
				r.Freeze()
				b.Cleanup(r.Thaw)
				start := time.Now()
				if _, err := send.SendMessage(ctx, sdk.NewTextMessage("first"), "receiver"); err != nil {
					b.Fatal(err)
				}
				first = time.Since(start)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				if _, err := send.SendMessage(ctx, sdk.NewTextMessage(fmt.Sprint("m", i)), "receiver"); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			percentiles(b, lat)
			if frozen {
				b.ReportMetric(float64(first)/float64(time.Millisecond), "first-ms")
			}
		})
	}
}

// BenchmarkLoginWhileRedisFrozen measures a login's latency (Login called
// to its return; a new user each time) on one node of two, with Redis
// answering and with Redis frozen (SIGSTOP). The first login after the
// freeze, which finds Redis silent and waits out the call deadline (1 s)
// unless the node noticed first, is reported apart ("first-ms").
func BenchmarkLoginWhileRedisFrozen(b *testing.B) {
	for _, frozen := range []bool{false, true} {
		name := "redis-up"
		if frozen {
			name = "redis-frozen"
		}
		b.Run(name, func(b *testing.B) {
			r := imkittest.StartRedis(b)
			nodes := imkittest.RunClusterOn(b, 2, imkittest.PostgresDSN(b), r.Addr(), imkittest.NoRequestLimit())
			ctx := context.Background()
			login := func(user string) time.Duration {
				s, err := sdk.New(imkittest.SDKAppID, sdk.Config{ServerURL: nodes[0].URL, Platform: imkit.PlatformAndroid})
				if err != nil {
					b.Fatal(err)
				}
				defer s.UnInit()
				sig := imkittest.SignFor(b, user, time.Hour)
				start := time.Now()
				if err := s.Login(ctx, user, sig); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			login("warmup")
			first := time.Duration(0)
			if frozen {
				r.Freeze()
				b.Cleanup(r.Thaw)
				first = login("first")
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				lat = append(lat, login(fmt.Sprint("u", i)))
			}
			b.StopTimer()
			percentiles(b, lat)
			if frozen {
				b.ReportMetric(float64(first)/float64(time.Millisecond), "first-ms")
			}
		})
	}
}
