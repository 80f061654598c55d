package gateway_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/protocol"
	"github.com/imkit/imkit/usersig"
)

// benchSessions returns how many sessions a resume benchmark holds: 1,000,
// or IMKIT_BENCH_SESSIONS.
func benchSessions(b *testing.B) int {
	n := 1000
	if v := os.Getenv("IMKIT_BENCH_SESSIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("IMKIT_BENCH_SESSIONS=%q: want a positive number", v)
		}
	}
	return n
}

// BenchmarkResumeStorm is the server's side of a restart: N sessions are
// logged in, the server (in a child process, on the same data) restarts,
// and all N resume at once through thin protocol clients (dial, WebSocket
// upgrade, resume frame, reply; no SDK, no sync, no backoff) from 256
// goroutines. Reported: the time from the new server listening until every
// session is resumed, and resumes/s. sdk's BenchmarkResumeAfterRestart
// measures the same through the SDK.
func BenchmarkResumeStorm(b *testing.B) {
	n := benchSessions(b)
	srv := imkittest.RunServerProcess(b, imkittest.ProcessConfig{})
	url := bench.WSURL(srv.Addr())
	d := &bench.Dialer{}
	ctx := context.Background()

	frames := make([][]byte, n) // the resume frames
	conns := make([]*bench.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	run(b, n, 64, func(i int) error {
		user := fmt.Sprintf("u%05d", i)
		sig, err := usersig.Sign(imkittest.SDKAppID, imkittest.Key, user, 24*time.Hour)
		if err != nil {
			return err
		}
		req := protocol.LoginRequest{SDKAppID: imkittest.SDKAppID, UserID: user, UserSig: sig,
			Platform: imkit.PlatformAndroid, InstanceID: "i-" + user}
		login, _ := protocol.AppendRequest(nil, 1, protocol.OpLogin, req)
		c, err := d.Login(ctx, url, user, login)
		if err != nil {
			return err
		}
		conns[i] = c
		req.SessionID = c.Reply.SessionID
		frames[i], _ = protocol.AppendRequest(nil, 1, protocol.OpLogin, req)
		return nil
	})
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		b.StopTimer()
		srv.Stop()
		for _, c := range conns {
			c.Close()
		}
		b.StartTimer()
		srv.Start()
		start := time.Now()
		run(b, n, 256, func(i int) error {
			c, err := d.Login(ctx, url, "", frames[i])
			if err != nil {
				return err
			}
			if !c.Reply.Resumed {
				return fmt.Errorf("session %d: not resumed", i)
			}
			conns[i] = c
			return nil
		})
		total += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(n), "sessions")
	b.ReportMetric(total.Seconds()/float64(b.N), "s-all-back")
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "resumes/s")
}

// run calls f(0..n-1) from width goroutines and fails on the first error.
func run(b *testing.B, n, width int, f func(i int) error) {
	b.Helper()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		first atomic.Pointer[error]
	)
	for range min(width, n) {
		wg.Go(func() {
			for first.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					err = fmt.Errorf("#%d: %w", i, err)
					first.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	if err := first.Load(); err != nil {
		b.Fatal(*err)
	}
}
