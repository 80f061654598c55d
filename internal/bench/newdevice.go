package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/sdk"
	"github.com/imkit/imkit/usersig"
)

// SeedMailbox stores n messages in the mailbox of user, from convs peers in
// turn (peer00000, peer00001, ...), straight into st, in batches: the state
// of a user with a long past, made before the server starts.
func SeedMailbox(ctx context.Context, st store.Store, app uint64, user string, n, convs int) error {
	const batch = 1000
	start := time.Now().Add(-time.Duration(n) * time.Millisecond).UnixMilli()
	body := []byte(`[{"type":"text","text":"a message of about the size people send, some forty bytes"}]`)
	for i := 0; i < n; i += batch {
		msgs := make([]*store.Message, 0, batch)
		for j := i; j < min(n, i+batch); j++ {
			from := fmt.Sprintf("peer%05d", j%convs)
			msgs = append(msgs, &store.Message{
				ID: fmt.Sprintf("seed-%d", j), ClientMsgID: fmt.Sprintf("seed-%d", j),
				From: from, To: user, Time: start + int64(j), Body: body,
			})
		}
		if err := st.AppendMessages(ctx, app, msgs); err != nil {
			return fmt.Errorf("seed messages %d..%d: %w", i, i+len(msgs), err)
		}
	}
	return nil
}

// NewDeviceConfig configures NewDevice.
type NewDeviceConfig struct {
	Target    Target
	User      string // whose mailbox the server holds
	Rounds    int    // logins measured (default 20)
	ServerPID int    // for the server's CPU per login; 0: not measured
}

// NewDeviceResult is what NewDevice measured: a login of the Go SDK on a
// new device (an empty cache), until OnSyncServerFinish.
type NewDeviceResult struct {
	P50, Max time.Duration // Login called to OnSyncServerFinish
	// Bytes is the median of what the server sent to one new device up to
	// OnSyncServerFinish (WebSocket frames, with their headers).
	Bytes int64
	// Convs is how many conversations the cache held at OnSyncServerFinish
	// (the first page), and Msgs how many OnRecvNewMessage calls came.
	Convs, Msgs int
	ServerCPU   time.Duration // per login; 0 when not measured
}

// NewDevice logs cfg.User in on a new Go SDK instance with an empty cache,
// over and over, and measures the time, bytes and server CPU to
// OnSyncServerFinish.
func NewDevice(ctx context.Context, cfg NewDeviceConfig) (NewDeviceResult, error) {
	if cfg.Rounds <= 0 {
		cfg.Rounds = 20
	}
	relay, err := newRelay(cfg.Target.URL)
	if err != nil {
		return NewDeviceResult{}, err
	}
	defer relay.close()
	sig, err := usersig.Sign(cfg.Target.SDKAppID, cfg.Target.Key, cfg.User, 24*time.Hour)
	if err != nil {
		return NewDeviceResult{}, err
	}
	var (
		res   NewDeviceResult
		times []time.Duration
		bytes []int64
		cpu   time.Duration
	)
	for round := range cfg.Rounds + 1 { // the first is a warm-up
		var msgs atomic.Int64
		finished := make(chan struct{}, 1)
		s, err := sdk.New(cfg.Target.SDKAppID, sdk.Config{
			ServerURL: relay.url,
			Platform:  imkit.PlatformWeb,
			Listener: sdk.Listener{
				OnRecvNewMessage:   func(*sdk.Message) { msgs.Add(1) },
				OnSyncServerFinish: func() { finished <- struct{}{} },
			},
		})
		if err != nil {
			return res, err
		}
		relay.received.Store(0)
		cpu0 := CPUTime(cfg.ServerPID)
		t0 := time.Now()
		err = s.Login(ctx, cfg.User, sig)
		if err == nil {
			select {
			case <-finished:
			case <-time.After(time.Minute):
				err = fmt.Errorf("no OnSyncServerFinish within a minute")
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		d, got, used := time.Since(t0), relay.received.Load(), CPUTime(cfg.ServerPID)-cpu0
		if err != nil {
			s.UnInit()
			return res, fmt.Errorf("round %d: %w", round, err)
		}
		convs, _, _ := s.ConversationList(ctx, 0, 1000)
		s.UnInit()
		if round == 0 {
			continue
		}
		times, bytes, cpu = append(times, d), append(bytes, got), cpu+used
		res.Convs, res.Msgs = len(convs), int(msgs.Load())
	}
	res.P50, res.Max, res.Bytes = Median(times), slices.Max(times), Median(bytes)
	if cfg.ServerPID != 0 {
		res.ServerCPU = cpu / time.Duration(cfg.Rounds)
	}
	return res, nil
}

// CatchUpConfig configures CatchUp.
type CatchUpConfig struct {
	Target Target
	Missed int // messages sent while the device is away (default 500)
	Rounds int // default 5
}

// CatchUp measures a device that comes back after missing cfg.Missed
// messages: from Login called to the last of them told through
// OnRecvNewMessage. It fails if they come out of order or not all.
func CatchUp(ctx context.Context, cfg CatchUpConfig) (p50, worst time.Duration, err error) {
	if cfg.Missed <= 0 {
		cfg.Missed = 500
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 5
	}
	t := cfg.Target
	sign := func(user string) (string, error) { return usersig.Sign(t.SDKAppID, t.Key, user, 24*time.Hour) }
	senderSig, err := sign("catchup-sender")
	if err != nil {
		return 0, 0, err
	}
	deviceSig, err := sign("catchup-device")
	if err != nil {
		return 0, 0, err
	}
	sender, err := sdk.New(t.SDKAppID, sdk.Config{ServerURL: t.URL, Platform: imkit.PlatformLinux})
	if err != nil {
		return 0, 0, err
	}
	defer sender.UnInit()
	if err := sender.Login(ctx, "catchup-sender", senderSig); err != nil {
		return 0, 0, fmt.Errorf("sender login: %w", err)
	}
	var (
		mu     sync.Mutex
		got    []uint64
		all    = make(chan struct{}, 1)
		synced = make(chan struct{}, 1)
	)
	dataDir, err := os.MkdirTemp("", "imkit-catchup-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dataDir)
	device, err := sdk.New(t.SDKAppID, sdk.Config{
		ServerURL: t.URL, Platform: imkit.PlatformAndroid, DataDir: dataDir,
		Listener: sdk.Listener{OnSyncServerFinish: func() {
			select {
			case synced <- struct{}{}:
			default:
			}
		}, OnRecvNewMessage: func(m *sdk.Message) {
			mu.Lock()
			got = append(got, m.Seq)
			n := len(got)
			mu.Unlock()
			if n == cfg.Missed {
				all <- struct{}{}
			}
		}},
	})
	if err != nil {
		return 0, 0, err
	}
	defer device.UnInit()
	if err := device.Login(ctx, "catchup-device", deviceSig); err != nil {
		return 0, 0, fmt.Errorf("device login: %w", err)
	}
	// The first sync gives the new device its mailbox cursor: a device
	// that never finished one is new again at its next login.
	select {
	case <-synced:
	case <-time.After(time.Minute):
		return 0, 0, errors.New("the device's first sync did not finish within a minute")
	}
	var times []time.Duration
	for round := range cfg.Rounds {
		if err := device.Logout(ctx); err != nil {
			return 0, 0, err
		}
		for i := range cfg.Missed {
			m := sdk.NewTextMessage(fmt.Sprintf("missed %d of round %d", i, round))
			if _, err := sender.SendMessage(ctx, m, "catchup-device"); err != nil {
				return 0, 0, fmt.Errorf("send: %w", err)
			}
		}
		mu.Lock()
		got = got[:0]
		mu.Unlock()
		t0 := time.Now()
		if err := device.Login(ctx, "catchup-device", deviceSig); err != nil {
			return 0, 0, fmt.Errorf("device login: %w", err)
		}
		select {
		case <-all:
		case <-time.After(time.Minute):
			mu.Lock()
			n := len(got)
			mu.Unlock()
			return 0, 0, fmt.Errorf("round %d: %d of %d messages within a minute", round, n, cfg.Missed)
		}
		times = append(times, time.Since(t0))
		mu.Lock()
		ordered := slices.IsSorted(got) && len(got) == cfg.Missed
		mu.Unlock()
		if !ordered {
			return 0, 0, fmt.Errorf("round %d: the messages came out of mailbox order", round)
		}
	}
	return Median(times), slices.Max(times), nil
}

// relay forwards TCP connections to a server and counts the bytes the
// server sends.
type relay struct {
	url      string
	ln       net.Listener
	received atomic.Int64
	wg       sync.WaitGroup
}

func newRelay(wsURL string) (*relay, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{url: "ws://" + ln.Addr().String() + u.Path, ln: ln}
	r.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", u.Host)
			if err != nil {
				c.Close()
				continue
			}
			r.wg.Go(func() { io.Copy(s, c); s.Close() })
			r.wg.Go(func() { io.Copy(counter{c, &r.received}, s); c.Close() })
		}
	})
	return r, nil
}

// counter counts the bytes written through it.
type counter struct {
	w io.Writer
	n *atomic.Int64
}

func (c counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func (r *relay) close() {
	r.ln.Close()
	r.wg.Wait()
}
