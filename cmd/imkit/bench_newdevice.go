package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/store"
)

const benchNewDeviceUsage = `usage: imkit bench newdevice [flags]

A user's new device logs in (the Go SDK, an empty cache) while the server
holds a long mailbox: the time from Login to OnSyncServerFinish, the bytes
the server sent and its CPU per login, once for each mailbox size (a new
server each, seeded before it starts). A new device gets the first page of
the conversation list, not the mailbox: the figures should not grow with
it. Then a device that was away comes back after missing --missed messages:
the time until the last of them reached OnRecvNewMessage, in order.

`

func runBenchNewDevice(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "bench newdevice")
	fs.Usage = func() { fmt.Fprint(env.Stderr, benchNewDeviceUsage); fs.PrintDefaults() }
	var t targetFlags
	t.register(fs, env)
	sizes := fs.String("sizes", "0,20000,200000", "comma-separated `counts` of messages in the user's mailbox")
	convs := fs.Int("convs", 2000, "conversations the messages are spread over")
	rounds := fs.Int("rounds", 20, "new-device logins measured per size")
	missed := fs.Int("missed", 500, "messages a returning device missed (0: skip)")
	catchRounds := fs.Int("catchup-rounds", 5, "returns measured")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if t.server != "" || t.inprocess {
		return errors.New("bench newdevice seeds the data directory of a server it starts itself: no --server or --inprocess")
	}
	var counts []int
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return fmt.Errorf("--sizes: bad count %q", f)
		}
		counts = append(counts, n)
	}
	if *convs <= 0 {
		return errors.New("--convs must be at least 1")
	}
	const user = "newdevice"
	for _, n := range counts {
		fmt.Fprintf(env.Stdout, "newdevice: seeding %d messages in %d conversations (%s)\n", n, min(n, *convs), loadNote())
		t0 := time.Now()
		t.seed = func(ctx context.Context, st store.Store, app uint64) error {
			return bench.SeedMailbox(ctx, st, app, user, n, *convs)
		}
		srv, err := t.start(ctx, env)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "  seeded and started in %s; %d logins on a new device...\n", time.Since(t0).Round(time.Millisecond), *rounds)
		res, err := bench.NewDevice(ctx, bench.NewDeviceConfig{Target: srv.target, User: user, Rounds: *rounds, ServerPID: srv.pid})
		srv.close()
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "newdevice %d messages: login to sync finished p50 %s max %s (goal: p50 at most 50ms, flat); %d bytes received; server CPU %s per login; %d conversations cached, %d messages announced (%s)\n",
			n, res.P50.Round(time.Microsecond), res.Max.Round(time.Microsecond), res.Bytes, cpuNote(res.ServerCPU), res.Convs, res.Msgs, loadNote())
	}
	if *missed > 0 {
		t.seed = nil
		srv, err := t.start(ctx, env)
		if err != nil {
			return err
		}
		defer srv.close()
		fmt.Fprintf(env.Stdout, "catchup: a device misses %d messages, %d times...\n", *missed, *catchRounds)
		p50, worst, err := bench.CatchUp(ctx, bench.CatchUpConfig{Target: srv.target, Missed: *missed, Rounds: *catchRounds})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "catchup %d missed messages: login to the last one told, in order: p50 %s max %s (goal: at most 200ms) (%s)\n",
			*missed, p50.Round(time.Microsecond), worst.Round(time.Microsecond), loadNote())
	}
	return nil
}
