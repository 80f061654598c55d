package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imkit/imkit"
)

// LoginConfig configures a login benchmark.
type LoginConfig struct {
	Target Target
	Dialer *Dialer // nil: a Dialer from any local address
	// Clients is the number of concurrent clients (default 64). Each logs in,
	// closes (or keeps) the connection and logs in again, until the round
	// ends.
	Clients int
	// Users is the number of distinct users logging in, in turn (default
	// 10,000): the first login of each signs the user up; later ones end
	// the user's previous session under the login policy.
	Users int
	// Keep keeps each connection open until the round ends instead of
	// closing it once logged in; at most MaxOpen at once (default 8,000;
	// mind the limit of open files), after which the round ends early.
	Keep    bool
	MaxOpen int
	// Warmup is a first round that is not counted (default 1s; negative:
	// none); Duration is each round's (default 3s); Rounds their number
	// (default 3).
	Warmup   time.Duration
	Duration time.Duration
	Rounds   int
	Platform imkit.Platform // default Linux
	// ServerPID is the server's process, to measure its CPU time per login;
	// 0: unknown, or this process.
	ServerPID int
	// Progress, when set, is called after each counted round.
	Progress func(LoginRound)
}

// LoginRound is what one round measured.
type LoginRound struct {
	Logins  int64
	Errors  int64
	Elapsed time.Duration
	Rate    float64 // logins per second
	// P50 and P99 are the latencies of a login: connect, upgrade, login
	// frame and its reply.
	P50, P99, Max time.Duration
	// ServerCPU and ClientCPU are the CPU time used per login by the
	// server's process (0 when not known) and by this one.
	ServerCPU, ClientCPU time.Duration
	// ServerWait is the share of the round the server's threads waited,
	// runnable, for a CPU (0 when not known): other work on the machine.
	ServerWait float64
	FirstErr   error
}

// LoginResult is a login benchmark's outcome: its rounds and their medians.
type LoginResult struct {
	Rounds   []LoginRound
	Rate     float64
	P50, P99 time.Duration
}

func (c *LoginConfig) defaults() {
	if c.Dialer == nil {
		c.Dialer = &Dialer{}
	}
	if c.Clients <= 0 {
		c.Clients = 64
	}
	if c.Users <= 0 {
		c.Users = 10000
	}
	if c.MaxOpen <= 0 {
		c.MaxOpen = 8000
	}
	if c.Warmup == 0 {
		c.Warmup = time.Second
	}
	if c.Duration <= 0 {
		c.Duration = 3 * time.Second
	}
	if c.Rounds <= 0 {
		c.Rounds = 3
	}
	if !c.Platform.Valid() {
		c.Platform = imkit.PlatformLinux
	}
}

// Login runs a login benchmark.
func Login(ctx context.Context, cfg LoginConfig) (LoginResult, error) {
	cfg.defaults()
	frames := make([][]byte, cfg.Users)
	users := Users("bench", 0, cfg.Users)
	for i, u := range users {
		var err error
		if frames[i], err = LoginFrame(cfg.Target, u, "bench-"+strconv.Itoa(i), cfg.Platform); err != nil {
			return LoginResult{}, err
		}
	}
	var next atomic.Int64
	round := func(d time.Duration) LoginRound {
		var (
			h       Hist
			logins  atomic.Int64
			errs    atomic.Int64
			errOnce sync.Once
			first   error
			mu      sync.Mutex // guards open
			open    []*Conn
		)
		rctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		cpu := startCPU(cfg.ServerPID)
		start := time.Now()
		var wg sync.WaitGroup
		for range cfg.Clients {
			wg.Go(func() {
				for rctx.Err() == nil {
					i := int(next.Add(1)-1) % cfg.Users
					t0 := time.Now()
					c, err := cfg.Dialer.Login(ctx, cfg.Target.URL, users[i], frames[i])
					if err != nil {
						if rctx.Err() == nil {
							errs.Add(1)
							errOnce.Do(func() { first = err })
							time.Sleep(10 * time.Millisecond)
						}
						continue
					}
					h.Record(time.Since(t0))
					logins.Add(1)
					if !cfg.Keep {
						c.Close()
						continue
					}
					mu.Lock()
					open = append(open, c)
					full := len(open) >= cfg.MaxOpen
					mu.Unlock()
					if full {
						cancel()
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		server, client, wait := cpu.stop()
		for _, c := range open {
			c.Close()
		}
		n := logins.Load()
		return LoginRound{
			ServerCPU: perOp(server, n), ClientCPU: perOp(client, n), ServerWait: wait.Seconds() / elapsed.Seconds(),
			Logins: n, Errors: errs.Load(), Elapsed: elapsed,
			Rate: float64(n) / elapsed.Seconds(),
			P50:  h.Quantile(0.50), P99: h.Quantile(0.99), Max: h.Max(),
			FirstErr: first,
		}
	}
	var res LoginResult
	if cfg.Warmup > 0 {
		if r := round(cfg.Warmup); r.Logins == 0 {
			return res, fmt.Errorf("no login succeeded in the warm-up: %v", r.FirstErr)
		}
	}
	var rates []float64
	var p50s, p99s []time.Duration
	for range cfg.Rounds {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if cfg.Keep {
			// Let the server notice the closed connections of the last round.
			time.Sleep(500 * time.Millisecond)
		}
		r := round(cfg.Duration)
		res.Rounds = append(res.Rounds, r)
		rates = append(rates, r.Rate)
		p50s = append(p50s, r.P50)
		p99s = append(p99s, r.P99)
		if cfg.Progress != nil {
			cfg.Progress(r)
		}
	}
	res.Rate, res.P50, res.P99 = Median(rates), Median(p50s), Median(p99s)
	return res, ctx.Err()
}
