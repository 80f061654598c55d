package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/protocol"
)

// MsgConfig configures a message benchmark.
type MsgConfig struct {
	Target Target
	Dialer *Dialer
	// Users is the number of users online, one connection each (default
	// 1,000). Each sends to the next (user i to user i+1, the last to the
	// first), or to a random other user with RandomPeers.
	Users       int
	RandomPeers bool
	// Rate is the messages per second sent, spread evenly over time and
	// over the users in turn; 0 means saturation: every user keeps Window
	// messages in flight (default 1), sending the next when the server
	// acknowledges one.
	Rate   float64
	Window int
	// Size is the length of each message's text in bytes (default 32; at
	// least the 20 or so of the send time it carries).
	Size int
	// Warmup is a first round that is not counted (default 2s; negative:
	// none); Duration is each round's (default 3s); Rounds their number
	// (default 3).
	Warmup   time.Duration
	Duration time.Duration
	Rounds   int
	// Clients is the number of concurrent logins at the start (default 64).
	Clients int
	// ServerPID is the server's process, to measure its CPU time per
	// message; 0: unknown, or this process.
	ServerPID int
	// Progress, when set, is called after each counted round.
	Progress func(MsgRound)
}

// MsgRound is what one round measured.
type MsgRound struct {
	Sent, Acked, Delivered, Errors int64
	Elapsed                        time.Duration
	// AckRate is messages acknowledged (stored) per second; DeliverRate is
	// messages received by their receivers per second.
	AckRate, DeliverRate float64
	// P50, P99 and Max are the latencies from the sender's send to the
	// receiver's reading the push; AckP50 and AckP99 from the send to the
	// sender's reading the reply (the message stored).
	P50, P99, Max  time.Duration
	AckP50, AckP99 time.Duration
	// ServerCPU and ClientCPU are the CPU time used per message acknowledged
	// by the server's process (0 when not known) and by this one.
	ServerCPU, ClientCPU time.Duration
	// ServerWait is the share of the round the server's threads waited,
	// runnable, for a CPU (0 when not known): other work on the machine.
	ServerWait float64
	FirstErr   string
}

// MsgResult is a message benchmark's outcome: its rounds, their medians,
// and what was never acknowledged or delivered once sending stopped.
type MsgResult struct {
	Rounds               []MsgRound
	AckRate, DeliverRate float64
	P50, P99             time.Duration
	AckP50, AckP99       time.Duration
	Unacked, Undelivered int64
}

func (c *MsgConfig) defaults() {
	if c.Dialer == nil {
		c.Dialer = &Dialer{}
	}
	if c.Users <= 1 {
		c.Users = 1000
	}
	if c.Window <= 0 {
		c.Window = 1
	}
	if c.Size <= 0 {
		c.Size = 32
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	}
	if c.Duration <= 0 {
		c.Duration = 3 * time.Second
	}
	if c.Rounds <= 0 {
		c.Rounds = 3
	}
	if c.Clients <= 0 {
		c.Clients = 64
	}
}

// msgStats are the counters of one round; the read loops add to the round
// current when a frame arrives.
type msgStats struct {
	sent, acked, delivered, errors atomic.Int64
	lat, ackLat                    Hist
	firstErr                       atomic.Pointer[string]
}

type msgRun struct {
	cfg   MsgConfig
	runID string // makes client message IDs unique across runs
	start time.Time
	conns []*msgConn
	cur   atomic.Pointer[msgStats]
	stop  atomic.Bool // no more sends

	sent, acked, delivered, errors atomic.Int64 // totals over all rounds
}

type msgConn struct {
	*Conn
	idx int

	mu     sync.Mutex // guards the fields below and serialises writes
	nextID uint64
	sentAt map[uint64]int64 // request id -> send time, ns since msgRun.start
	buf    []byte
}

// now is the time since the start, on the monotonic clock.
func (r *msgRun) now() int64 { return int64(time.Since(r.start)) }

// Msg runs a message benchmark.
func Msg(ctx context.Context, cfg MsgConfig) (MsgResult, error) {
	cfg.defaults()
	users := Users("msg", 0, cfg.Users)
	conns, err := loginAll(ctx, cfg.Target, cfg.Dialer, users, cfg.Clients, "msg-", imkit.PlatformLinux)
	if err != nil {
		return MsgResult{}, err
	}
	r := &msgRun{cfg: cfg, start: time.Now(), runID: strconv.FormatUint(rand.Uint64()>>20, 36)}
	for i, c := range conns {
		r.conns = append(r.conns, &msgConn{Conn: c, idx: i, sentAt: make(map[uint64]int64)})
	}
	defer func() {
		for _, c := range r.conns {
			c.Close()
		}
	}()
	r.cur.Store(new(msgStats))

	var wg sync.WaitGroup
	for _, c := range r.conns {
		wg.Go(func() { r.read(c) })
	}
	if cfg.Rate > 0 {
		wg.Go(func() { r.pace(ctx) })
	}

	var res MsgResult
	if cfg.Warmup > 0 {
		time.Sleep(cfg.Warmup)
	}
	var rates, drates []float64
	var p50s, p99s, a50s, a99s []time.Duration
	for range cfg.Rounds {
		if ctx.Err() != nil {
			break
		}
		st := new(msgStats)
		cpu := startCPU(cfg.ServerPID)
		t0 := time.Now()
		r.cur.Store(st)
		select {
		case <-time.After(cfg.Duration):
		case <-ctx.Done():
		}
		r.cur.Store(new(msgStats))
		round := st.round(time.Since(t0))
		server, client, wait := cpu.stop()
		round.ServerCPU, round.ClientCPU = perOp(server, round.Acked), perOp(client, round.Acked)
		round.ServerWait = wait.Seconds() / round.Elapsed.Seconds()
		res.Rounds = append(res.Rounds, round)
		rates, drates = append(rates, round.AckRate), append(drates, round.DeliverRate)
		p50s, p99s = append(p50s, round.P50), append(p99s, round.P99)
		a50s, a99s = append(a50s, round.AckP50), append(a99s, round.AckP99)
		if cfg.Progress != nil {
			cfg.Progress(round)
		}
	}
	res.AckRate, res.DeliverRate = Median(rates), Median(drates)
	res.P50, res.P99, res.AckP50, res.AckP99 = Median(p50s), Median(p99s), Median(a50s), Median(a99s)

	// Stop sending and wait for what is in flight.
	r.stop.Store(true)
	// One reading of the counters decides and is reported: a push can reach
	// its receiver before the reply reaches the sender.
	deadline := time.Now().Add(10 * time.Second)
	for {
		delivered, acked, errs, sent := r.delivered.Load(), r.acked.Load(), r.errors.Load(), r.sent.Load()
		res.Unacked = max(0, sent-acked-errs)
		res.Undelivered = max(0, acked-delivered)
		if res.Unacked == 0 && res.Undelivered == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range r.conns {
		c.Close()
	}
	wg.Wait()
	if len(res.Rounds) == 0 {
		return res, ctx.Err()
	}
	return res, nil
}

func (st *msgStats) round(elapsed time.Duration) MsgRound {
	r := MsgRound{
		Sent: st.sent.Load(), Acked: st.acked.Load(), Delivered: st.delivered.Load(), Errors: st.errors.Load(),
		Elapsed: elapsed,
		P50:     st.lat.Quantile(0.50), P99: st.lat.Quantile(0.99), Max: st.lat.Max(),
		AckP50: st.ackLat.Quantile(0.50), AckP99: st.ackLat.Quantile(0.99),
	}
	r.AckRate = float64(r.Acked) / elapsed.Seconds()
	r.DeliverRate = float64(r.Delivered) / elapsed.Seconds()
	if p := st.firstErr.Load(); p != nil {
		r.FirstErr = *p
	}
	return r
}

func (r *msgRun) peer(c *msgConn) *msgConn {
	n := len(r.conns)
	if !r.cfg.RandomPeers {
		return r.conns[(c.idx+1)%n]
	}
	return r.conns[(c.idx+1+rand.IntN(n-1))%n]
}

// send sends a message from c to its next peer.
func (r *msgRun) send(c *msgConn) {
	to := r.peer(c).User
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ts := r.now()
	c.sentAt[id] = ts
	c.buf = appendSend(c.buf[:0], id, to, r.runID, ts, r.cfg.Size)
	err := c.WS.WriteMessage(websocket.TextMessage, c.buf)
	if err != nil {
		delete(c.sentAt, id)
	}
	c.mu.Unlock()
	if err != nil {
		return // the read loop sees the connection end
	}
	r.sent.Add(1)
	r.cur.Load().sent.Add(1)
}

// appendSend appends a send request whose text starts with the send time.
// Its client message ID starts with the time in milliseconds, as the SDK's
// do, then runID-id, unique to the sending user.
func appendSend(b []byte, id uint64, to, runID string, ts int64, size int) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `,"op":"send","data":{"to":"`...)
	b = append(b, to...)
	b = append(b, `","clientMsgID":"`...)
	b = fmt.Appendf(b, "%012x", time.Now().UnixMilli())
	b = append(b, runID...)
	b = append(b, '-')
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","elems":[{"type":"text","text":"`...)
	n := len(b)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, ' ')
	for len(b)-n < size {
		b = append(b, 'x')
	}
	return append(b, `"}]}}`...)
}

// pace sends cfg.Rate messages per second from the users in turn.
func (r *msgRun) pace(ctx context.Context) {
	interval := time.Duration(float64(time.Second) / r.cfg.Rate)
	next := time.Now()
	for i := 0; !r.stop.Load() && ctx.Err() == nil; i++ {
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		r.send(r.conns[i%len(r.conns)])
	}
}

var (
	prefixReply = []byte(`{"id":`)
	prefixMsg   = []byte(`{"op":"msg",`)
	keyText     = []byte(`"text":"`)
	codeField   = []byte(`,"code":`)
	dupField    = []byte(`"dup":true`)
)

// read handles what the server sends to c: replies to its sends and pushes
// of messages sent to it.
func (r *msgRun) read(c *msgConn) {
	var buf bytes.Buffer
	if r.cfg.Rate == 0 {
		for range r.cfg.Window {
			r.send(c)
		}
	}
	for {
		if err := readInto(c.WS, &buf); err != nil {
			if !r.stop.Load() {
				r.fail(fmt.Sprintf("%s: connection ended: %v", c.User, err))
			}
			return
		}
		now := r.now()
		b := buf.Bytes()
		switch {
		case bytes.HasPrefix(b, prefixReply):
			rest := b[len(prefixReply):]
			j := 0
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
				j++
			}
			id, _ := strconv.ParseUint(string(rest[:j]), 10, 64)
			c.mu.Lock()
			ts, ok := c.sentAt[id]
			delete(c.sentAt, id)
			c.mu.Unlock()
			if bytes.HasPrefix(rest[j:], codeField) || bytes.Contains(rest[j:], dupField) {
				// Refused, or a duplicate (stored before, not pushed again).
				r.errors.Add(1)
				r.cur.Load().errors.Add(1)
				r.fail(string(b))
			} else {
				r.acked.Add(1)
				st := r.cur.Load()
				st.acked.Add(1)
				if ok {
					st.ackLat.Record(time.Duration(now - ts))
				}
			}
			if r.cfg.Rate == 0 && !r.stop.Load() {
				r.send(c)
			}
		case bytes.HasPrefix(b, prefixMsg):
			i := bytes.Index(b, keyText)
			if i < 0 {
				r.fail("a message push without text: " + string(b))
				continue
			}
			t := b[i+len(keyText):]
			j := 0
			for j < len(t) && t[j] >= '0' && t[j] <= '9' {
				j++
			}
			ts, err := strconv.ParseInt(string(t[:j]), 10, 64)
			r.delivered.Add(1)
			st := r.cur.Load()
			st.delivered.Add(1)
			if err == nil {
				st.lat.Record(time.Duration(now - ts))
			}
		default:
			f, err := protocol.DecodeFrame(b)
			if err != nil || f.Op != protocol.PushConvRead {
				r.fail(string(b))
			}
		}
	}
}

// fail notes the first error of the round.
func (r *msgRun) fail(s string) {
	st := r.cur.Load()
	if st.firstErr.Load() == nil {
		st.firstErr.CompareAndSwap(nil, &s)
	}
}
