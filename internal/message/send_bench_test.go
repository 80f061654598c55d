package message_test

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/protocol"
)

// pair is a sender and a receiver, logged in over loopback.
type pair struct {
	from, to *bench.Conn
	id       uint64
	run      string
}

func newPair(b *testing.B, srv *imkittest.Server, n int64) *pair {
	b.Helper()
	target := srv.Target()
	var d bench.Dialer
	login := func(user string) *bench.Conn {
		f, err := bench.LoginFrame(target, user, "i-"+user, imkit.PlatformLinux)
		if err != nil {
			b.Fatal(err)
		}
		c, err := d.Login(b.Context(), target.URL, user, f)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	s := strconv.FormatInt(n, 10)
	return &pair{from: login("from" + s), to: login("to" + s), run: s}
}

// roundTrip sends one message and waits for both the sender's reply (the
// message is stored) and the receiver's push.
func (p *pair) roundTrip() error {
	p.id++
	err := p.from.Request(p.id, protocol.OpSend, protocol.SendRequest{
		To:          p.to.User,
		ClientMsgID: p.run + "-" + strconv.FormatUint(p.id, 10),
		Elems:       []protocol.Elem{{Type: protocol.ElemText, Text: "hello, this is a benchmark"}},
	})
	if err != nil {
		return err
	}
	for {
		f, err := p.from.ReadFrame()
		if err != nil {
			return err
		}
		if f.ID == p.id {
			if err := f.Err(); err != nil {
				return err
			}
			break
		}
	}
	for {
		f, err := p.to.ReadFrame()
		if err != nil {
			return err
		}
		if f.Op == protocol.PushMsg {
			return nil
		}
	}
}

// BenchmarkSend is one C2C message's round trip over loopback, one at a
// time: send, stored (with the group commit of one), reply to the sender,
// push to the receiver. Its time is the latency of a message on an idle
// server.
func BenchmarkSend(b *testing.B) {
	srv := imkittest.RunServer(b, imkittest.NoRequestLimit())
	p := newPair(b, srv, 0)
	b.ReportAllocs()
	for b.Loop() {
		if err := p.roundTrip(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendParallel is the same from 64 pairs of users at once: the
// group commit stores many messages per transaction. Compare msgs/s with
// the goal of 13,000 (imkit bench msg measures the same with 1,000 users
// against a server in its own process).
func BenchmarkSendParallel(b *testing.B) {
	srv := imkittest.RunServer(b, imkittest.NoRequestLimit())
	const parallelism = 32 // 64 pairs on 2 cores
	pairs := make([]*pair, parallelism*runtime.GOMAXPROCS(0))
	for i := range pairs {
		pairs[i] = newPair(b, srv, int64(i))
	}
	var n atomic.Int64
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := pairs[n.Add(1)-1]
		for pb.Next() {
			if err := p.roundTrip(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
