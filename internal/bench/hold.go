package bench

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/protocol"
)

// HoldConfig configures Hold.
type HoldConfig struct {
	Target Target
	Dialer *Dialer
	// Users are the users to log in, one session each.
	Users []string
	// Clients is the number of concurrent logins (default 64).
	Clients  int
	Platform imkit.Platform // default Linux
}

// Held is a set of idle logged-in sessions, kept alive with a ping per
// session at the heartbeat interval the server asked for.
type Held struct {
	conns   []*Conn
	closed  atomic.Int64 // connections the server ended
	closing atomic.Bool  // Close was called
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Hold logs every user in and keeps the sessions idle until Close. It fails
// when a login fails.
func Hold(ctx context.Context, cfg HoldConfig) (*Held, error) {
	if cfg.Dialer == nil {
		cfg.Dialer = &Dialer{}
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 64
	}
	if !cfg.Platform.Valid() {
		cfg.Platform = imkit.PlatformLinux
	}
	conns, err := loginAll(ctx, cfg.Target, cfg.Dialer, cfg.Users, cfg.Clients, "hold-", cfg.Platform)
	if err != nil {
		return nil, err
	}
	h := &Held{conns: conns}
	hctx, hcancel := context.WithCancel(context.Background())
	h.cancel = hcancel
	for _, c := range h.conns {
		h.wg.Go(func() { h.drain(c) })
	}
	h.wg.Go(func() { h.ping(hctx) })
	return h, nil
}

// Len returns the number of sessions held.
func (h *Held) Len() int { return len(h.conns) }

// Closed returns the number of sessions the server ended meanwhile.
func (h *Held) Closed() int64 { return h.closed.Load() }

// drain reads (and drops) what the server sends: ping replies, and the
// close frame should it end the session.
func (h *Held) drain(c *Conn) {
	var buf bytes.Buffer
	for {
		if err := readInto(c.WS, &buf); err != nil {
			if !h.closing.Load() {
				h.closed.Add(1)
			}
			return
		}
	}
}

// ping sends each session a ping per heartbeat interval, spread evenly over
// the interval.
func (h *Held) ping(ctx context.Context) {
	if len(h.conns) == 0 {
		return
	}
	beat := time.Duration(h.conns[0].Reply.Heartbeat) * time.Millisecond
	if beat <= 0 {
		beat = 30 * time.Second
	}
	gap := beat / time.Duration(len(h.conns))
	t := time.NewTicker(max(gap, time.Millisecond))
	defer t.Stop()
	var id uint64 = 1
	for i := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// With a gap under a millisecond, several pings go per tick.
		for range max(1, int(time.Millisecond/max(gap, 1))) {
			id++
			f, _ := protocol.AppendRequest(nil, id, protocol.OpPing, nil)
			h.conns[i].Write(f)
			i = (i + 1) % len(h.conns)
		}
	}
}

// Close drops every session.
func (h *Held) Close() {
	h.closing.Store(true)
	h.cancel()
	for _, c := range h.conns {
		c.Close()
	}
	h.wg.Wait()
}

// String describes the set, for logs.
func (h *Held) String() string { return strconv.Itoa(len(h.conns)) + " sessions" }

// loginAll logs each user in, clients at a time, with instance IDs
// instancePrefix+user. On a failure it closes what it opened and returns the
// first error.
func loginAll(ctx context.Context, t Target, d *Dialer, users []string, clients int, instancePrefix string, platform imkit.Platform) ([]*Conn, error) {
	conns := make([]*Conn, len(users))
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(max(clients, 1), len(users)) {
		wg.Go(func() {
			for lctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(users) {
					return
				}
				u := users[i]
				f, err := LoginFrame(t, u, instancePrefix+u, platform)
				if err == nil {
					conns[i], err = d.Login(lctx, t.URL, u, f)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("log in %s: %w", u, err) })
					cancel()
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		return nil, firstErr
	}
	return conns, nil
}
