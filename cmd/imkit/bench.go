package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/imkit/imkit/internal/bench"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/internal/store"
)

func init() {
	register("bench", "load generator: logins/s, memory per idle session, messages/s and latency", runBench)
}

// benchModes are the modes of "imkit bench"; those starting with "_" are the
// child processes the others start, not for people.
var benchModes = map[string]command{
	"login":        {"concurrent full logins: logins/s and login latency", runBenchLogin},
	"idle":         {"hold idle sessions; the server's memory (RSS) per session", runBenchIdle},
	"msg":          {"users online sending C2C messages: messages/s, latency sender->receiver", runBenchMsg},
	"newdevice":    {"a new device's login with a long mailbox, and a device back after missing messages", runBenchNewDevice},
	"_idle-client": {"", runBenchIdleClient},
	"_serve":       {"", runBenchServe},
}

const benchUsage = `usage: imkit bench <mode> [flags]

Load generator and measurements. The clients speak the wire protocol
directly (no SDK). Unless given --server, a mode starts the server itself:
"imkit serve" from this binary as a child process on a new data directory
(or, with --inprocess, in this process). Run "imkit bench <mode> -h" for the
flags of each mode.

modes:
`

func runBench(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(env.Stderr, benchUsage)
		names := make([]string, 0, len(benchModes))
		for n := range benchModes {
			if !strings.HasPrefix(n, "_") {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(env.Stderr, "  %-6s %s\n", n, benchModes[n].summary)
		}
		if len(args) == 0 {
			return exitError{2}
		}
		return nil
	}
	mode, ok := benchModes[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "imkit bench: unknown mode %q\n", args[0])
		return exitError{2}
	}
	// Child processes write to the same streams from goroutines of their own.
	e := *env
	e.Stdout = &syncWriter{w: env.Stdout}
	e.Stderr = &syncWriter{w: env.Stderr}
	return mode.run(ctx, &e, args[1:])
}

// syncWriter serialises writes.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *syncWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// targetFlags choose the server under test.
type targetFlags struct {
	server    string
	data      string
	sdkAppID  uint64
	key       string
	inprocess bool
	exe       string
	sources   int
	profile   string
	tmp       string
	serverPID int
	// seed, when set, fills a started child server's new data directory
	// before the server starts.
	seed func(ctx context.Context, st store.Store, app uint64) error
}

func (t *targetFlags) register(fs *flag.FlagSet, env *Env) {
	fs.StringVar(&t.server, "server", "", "`URL` of a running server (ws://host:port/ws, http://host:port or host:port); default: start one")
	fs.StringVar(&t.data, "data", "", "with --server: the server's data `directory`, to read the app's SDKAppID and key from")
	fs.Uint64Var(&t.sdkAppID, "sdkappid", 0, "with --server: the app's SDKAppID (default: the first app in --data)")
	fs.StringVar(&t.key, "key", "", "with --server: the app's secret key (env IMKIT_KEY)")
	fs.BoolVar(&t.inprocess, "inprocess", false, "run the server in this process instead of a child process")
	fs.StringVar(&t.exe, "imkit", "", "the imkit `binary` to start the server and child clients from (default: this one)")
	fs.IntVar(&t.sources, "sources", 4, "client source addresses 127.0.0.2, 127.0.0.3, ... to connect from (0: the system's choice)")
	fs.StringVar(&t.tmp, "tmp", "", "parent `directory` of the started server's data directory (default: the system's temporary directory; /dev/shm takes the disk out of the measurement)")
	fs.StringVar(&t.profile, "profile", "", "write the child server's CPU profile of the measurement and its heap profile to `directory`")
	if t.key == "" {
		t.key = env.Getenv("IMKIT_KEY")
	}
}

// benchServer is the server under test.
type benchServer struct {
	target bench.Target
	pid    int    // the server's process; 0 when not known
	pprof  string // host:port of the child's pprof endpoint, if any
	close  func() error
}

func (t *targetFlags) dialer() *bench.Dialer {
	return &bench.Dialer{Sources: bench.LoopbackSources(t.sources)}
}

func (t *targetFlags) executable() (string, error) {
	if t.exe != "" {
		return t.exe, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this program to start the server: %w (give --imkit)", err)
	}
	return exe, nil
}

// start returns the server under test: the one given by --server, one in
// this process, or a child process.
func (t *targetFlags) start(ctx context.Context, env *Env) (*benchServer, error) {
	switch {
	case t.server != "":
		return t.external(ctx)
	case t.inprocess:
		return t.startInProcess(ctx)
	}
	return t.startChild(ctx, env)
}

func (t *targetFlags) external(ctx context.Context) (*benchServer, error) {
	s := &benchServer{target: bench.Target{URL: bench.WSURL(t.server), SDKAppID: t.sdkAppID, Key: t.key}, pid: t.serverPID, close: func() error { return nil }}
	if s.target.Key != "" && s.target.SDKAppID != 0 {
		return s, nil
	}
	if t.data == "" {
		return nil, errors.New("with --server, give --sdkappid and --key, or the server's --data directory")
	}
	st, err := openStore(ctx, t.data, "")
	if err != nil {
		return nil, err
	}
	defer st.Close()
	apps, err := st.Apps(ctx)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	for _, a := range apps {
		if t.sdkAppID == 0 || a.SDKAppID == t.sdkAppID {
			s.target.SDKAppID, s.target.Key = a.SDKAppID, a.Key
			return s, nil
		}
	}
	return nil, fmt.Errorf("no app %d in %s", t.sdkAppID, t.data)
}

func (t *targetFlags) startInProcess(ctx context.Context) (*benchServer, error) {
	dir, err := os.MkdirTemp(t.tmp, "imkit-bench-")
	if err != nil {
		return nil, err
	}
	// The load's clients are not people: no limit on their requests (as
	// --request-rate -1 for a child server).
	m := &Main{DataDir: dir, Config: server.Config{Addr: "127.0.0.1:0", RequestRate: -1}, Out: io.Discard}
	if err := m.Run(ctx); err != nil {
		m.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	apps, err := m.Store.Apps(ctx)
	if err != nil || len(apps) == 0 {
		m.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("the default app: %v", err)
	}
	return &benchServer{
		target: bench.Target{URL: bench.WSURL(m.Server.Addr()), SDKAppID: apps[0].SDKAppID, Key: apps[0].Key},
		pid:    os.Getpid(),
		close: func() error {
			err := m.Close()
			os.RemoveAll(dir)
			return err
		},
	}, nil
}

// startChild creates a data directory with an app and starts "imkit serve"
// on it in a child process (with --profile, "imkit bench _serve", the same
// with a pprof endpoint).
func (t *targetFlags) startChild(ctx context.Context, env *Env) (*benchServer, error) {
	exe, err := t.executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(t.tmp, "imkit-bench-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*benchServer, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	a, err := newApp(0, "", "administrator")
	if err != nil {
		return fail(err)
	}
	st, err := openStore(ctx, dir, "")
	if err != nil {
		return fail(err)
	}
	err = st.CreateApp(ctx, a)
	if err == nil && t.seed != nil {
		err = t.seed(ctx, st, a.SDKAppID)
	}
	st.Close()
	if err != nil {
		return fail(fmt.Errorf("prepare the data directory: %w", err))
	}
	args := []string{"serve"}
	if t.profile != "" {
		args = []string{"bench", "_serve", "--pprof", "127.0.0.1:0"}
	}
	args = append(args, "--data", dir, "--addr", "127.0.0.1:0", "--log-level", "warn", "--request-rate", "-1")
	cmd := exec.Command(exe, args...)
	cmd.Stderr = env.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("start %s: %w", exe, err))
	}
	s := &benchServer{target: bench.Target{SDKAppID: a.SDKAppID, Key: a.Key}, pid: cmd.Process.Pid}
	waited := make(chan error, 1)
	s.close = func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		var err error
		select {
		case err = <-waited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			err = <-waited
		}
		os.RemoveAll(dir)
		return err
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if a, ok := strings.CutPrefix(line, "imkit: pprof on "); ok {
				s.pprof = a
			}
			if a, ok := strings.CutPrefix(line, "imkit: listening on "); ok {
				s.target.URL = bench.WSURL(a)
				ready <- nil
			}
		}
		io.Copy(io.Discard, out)
		ready <- errors.New("the server exited before listening")
		waited <- cmd.Wait()
	}()
	select {
	case err = <-ready:
	case <-time.After(30 * time.Second):
		err = errors.New("the server did not start in 30s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// cpuProfile fetches the child server's CPU profile over d into dir, in the
// background; wait for it with the returned function.
func (s *benchServer) cpuProfile(dir, name string, d time.Duration) func() {
	if s.pprof == "" || dir == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fetchProfile(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.pprof, max(1, int(d.Seconds()+0.5))), filepath.Join(dir, name))
	}()
	return func() { <-done }
}

// heapProfile writes the child server's heap profile (after a GC) into dir.
func (s *benchServer) heapProfile(dir, name string) {
	if s.pprof != "" && dir != "" {
		fetchProfile(fmt.Sprintf("http://%s/debug/pprof/heap?gc=1", s.pprof), filepath.Join(dir, name))
	}
}

func fetchProfile(url, file string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// runBenchServe is "imkit serve" with a pprof endpoint, for --profile.
func runBenchServe(ctx context.Context, env *Env, args []string) error {
	addr := "127.0.0.1:0"
	if len(args) >= 2 && (args[0] == "--pprof" || args[0] == "-pprof") {
		addr, args = args[1], args[2:]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	defer ln.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/freeosmemory", func(w http.ResponseWriter, r *http.Request) {
		debug.FreeOSMemory() // a GC (which also shrinks goroutine stacks), then memory back to the system
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/debug/memstats", func(w http.ResponseWriter, r *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(w, "heap in use %.1f MB, heap idle %.1f MB (released %.1f MB), stacks %.1f MB, runtime other %.1f MB, next GC at %.1f MB, goroutines %d\n",
			mb(m.HeapInuse), mb(m.HeapIdle), mb(m.HeapReleased), mb(m.StackSys), mb(m.MSpanSys+m.MCacheSys+m.BuckHashSys+m.GCSys+m.OtherSys), mb(m.NextGC), runtime.NumGoroutine())
	})
	go http.Serve(ln, mux)
	fmt.Fprintf(env.Stdout, "imkit: pprof on %s\n", ln.Addr())
	return runServe(ctx, env, args)
}

func mb(n uint64) float64 { return float64(n) / (1 << 20) }

// memStats returns the child server's memory statistics, if it has a pprof
// endpoint.
func (s *benchServer) memStats() string {
	if s.pprof == "" {
		return ""
	}
	resp, err := http.Get("http://" + s.pprof + "/debug/memstats")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

func loadNote() string {
	return fmt.Sprintf("load average %.2f", bench.LoadAvg())
}

const benchLoginUsage = `usage: imkit bench login [flags]

Concurrent clients log in over and over: connect, WebSocket upgrade, login
frame with a fresh ticket, reply; then close (or, with --keep, keep the
session until the round ends). Prints logins per second and login latency
per round and their medians.

flags:
`

func runBenchLogin(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "bench login")
	fs.Usage = func() { fmt.Fprint(env.Stderr, benchLoginUsage); fs.PrintDefaults() }
	var t targetFlags
	t.register(fs, env)
	var cfg bench.LoginConfig
	fs.IntVar(&cfg.Clients, "clients", 64, "concurrent clients")
	fs.IntVar(&cfg.Users, "users", 10000, "distinct users logging in, in turn")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep each session open until the round ends")
	fs.IntVar(&cfg.MaxOpen, "max-open", 8000, "with --keep: most sessions open at once (ends the round early)")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "uncounted first round")
	fs.DurationVar(&cfg.Duration, "duration", 3*time.Second, "length of a round")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "rounds")
	// Dialing is work on several goroutines at once; one P did not help
	// logins measurably (it does help bench msg).
	procs := fs.Int("client-procs", 0, "GOMAXPROCS of the clients when the server runs in another process (0: the Go default)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if t.inprocess && cfg.Keep && cfg.MaxOpen > 9000 {
		return errors.New("--inprocess --keep holds both ends of each connection in one process: use --max-open 9000 or less")
	}
	srv, err := t.start(ctx, env)
	if err != nil {
		return err
	}
	defer srv.close()
	defer t.tuneClients(*procs)()
	cfg.Target, cfg.Dialer, cfg.ServerPID = srv.target, t.dialer(), srv.pid
	fmt.Fprintf(env.Stdout, "login: %d clients, %d users, keep=%v, %d rounds of %s, server %s (%s)\n",
		cfg.Clients, cfg.Users, cfg.Keep, cfg.Rounds, cfg.Duration, srv.target.URL, loadNote())
	cfg.Progress = func(r bench.LoginRound) {
		fmt.Fprintf(env.Stdout, "  round: %6.0f logins/s  p50 %-9s p99 %-9s max %-9s CPU/login server %s client %s, server waited for CPU %.0f%% (%d logins, %d errors)%s\n",
			r.Rate, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond),
			cpuNote(r.ServerCPU), cpuNote(r.ClientCPU), 100*r.ServerWait, r.Logins, r.Errors, errNote(r.FirstErr))
	}
	wait := srv.cpuProfile(t.profile, "login.cpu.pprof", cfg.Warmup+time.Duration(cfg.Rounds)*cfg.Duration)
	res, err := bench.Login(ctx, cfg)
	wait()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "login: median %.0f logins/s, p50 %s, p99 %s (goal: at least 5,000/s) %s\n",
		res.Rate, res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond), loadNote())
	return nil
}

func cpuNote(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(time.Microsecond).String()
}

func errNote(err error) string {
	if err == nil {
		return ""
	}
	return "; first error: " + err.Error()
}

const benchIdleUsage = `usage: imkit bench idle [flags]

Holds --n idle logged-in sessions against a server in another process and
reads that process's resident memory (VmRSS) before and after: the server's
memory per session. The sessions come from child processes of this program,
--per-process each, each from its own source address 127.0.0.2, 127.0.0.3,
... (a process may open 20,000 files, a source address has about 28,000
ports). Each round starts a new server, unless --server is given with
--server-pid.

flags:
`

func runBenchIdle(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "bench idle")
	fs.Usage = func() { fmt.Fprint(env.Stderr, benchIdleUsage); fs.PrintDefaults() }
	var t targetFlags
	t.register(fs, env)
	fs.IntVar(&t.serverPID, "server-pid", 0, "with --server: the server's process id, to read its memory")
	n := fs.Int("n", 19000, "idle sessions to hold")
	perProcess := fs.Int("per-process", 5000, "sessions per client process")
	clients := fs.Int("clients", 32, "concurrent logins per client process")
	rounds := fs.Int("rounds", 3, "rounds")
	settle := fs.Duration("settle", 5*time.Second, "wait before reading the memory, after the logins")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if t.inprocess {
		return errors.New("idle measures the server's memory: it must run in a process of its own (drop --inprocess)")
	}
	if t.server != "" && t.serverPID == 0 {
		return errors.New("with --server, give --server-pid to read the server's memory")
	}
	if *n <= 0 || *perProcess <= 0 {
		return errors.New("--n and --per-process must be positive")
	}
	exe, err := t.executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "idle: %d sessions from %d client processes, %d rounds (%s)\n", *n, (*n+*perProcess-1) / *perProcess, *rounds, loadNote())
	var perSession []float64
	for round := range *rounds {
		srv, err := t.start(ctx, env)
		if err != nil {
			return err
		}
		kb, err := idleRound(ctx, env, &t, srv, exe, round, *n, *perProcess, *clients, *settle)
		if cerr := srv.close(); err == nil && t.server == "" && cerr != nil {
			fmt.Fprintf(env.Stderr, "imkit bench idle: server exit: %v\n", cerr)
		}
		if err != nil {
			return err
		}
		perSession = append(perSession, kb)
	}
	fmt.Fprintf(env.Stdout, "idle: median %.2f KB of server RSS per idle session at %d sessions (goal: at most 10 KB) %s\n", bench.Median(perSession), *n, loadNote())
	return nil
}

// idleRound holds n sessions against srv and returns the server's RSS per
// session in KB (1,024 bytes).
func idleRound(ctx context.Context, env *Env, t *targetFlags, srv *benchServer, exe string, round, n, perProcess, clients int, settle time.Duration) (float64, error) {
	time.Sleep(time.Second)
	before, err := bench.RSS(srv.pid)
	if err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		ready chan error
	}
	var children []*child
	defer func() {
		for _, c := range children {
			c.stdin.Close()
		}
		for _, c := range children {
			done := make(chan struct{})
			go func() { c.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				c.cmd.Process.Kill()
				<-done
			}
		}
	}()
	start := time.Now()
	for i, first := 0, 0; first < n; i, first = i+1, first+perProcess {
		m := min(perProcess, n-first)
		source := bench.LoopbackSources(i + 1)[i].String()
		cmd := exec.Command(exe, "bench", "_idle-client",
			"--server", srv.target.URL, "--sdkappid", strconv.FormatUint(srv.target.SDKAppID, 10),
			"--first", strconv.Itoa(first), "--n", strconv.Itoa(m), "--source", source, "--clients", strconv.Itoa(clients))
		cmd.Env = append(os.Environ(), "IMKIT_KEY="+srv.target.Key)
		cmd.Stderr = env.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return 0, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return 0, err
		}
		if err := cmd.Start(); err != nil {
			return 0, fmt.Errorf("start a client process: %w", err)
		}
		c := &child{cmd: cmd, stdin: stdin, ready: make(chan error, 1)}
		children = append(children, c)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "ready ") {
					c.ready <- nil
				}
			}
			c.ready <- errors.New("a client process exited before its sessions were up")
		}()
	}
	for _, c := range children {
		select {
		case err := <-c.ready:
			if err != nil {
				return 0, err
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	loginTime := time.Since(start)
	time.Sleep(settle)
	// Three readings a second apart; the last counts, the others show
	// whether it has settled.
	var readings []string
	var after int64
	for i := range 3 {
		if i > 0 {
			time.Sleep(time.Second)
		}
		if after, err = bench.RSS(srv.pid); err != nil {
			return 0, fmt.Errorf("server memory: %w", err)
		}
		readings = append(readings, fmt.Sprintf("%.1f", float64(after)/(1<<20)))
	}
	stats := srv.memStats()
	srv.heapProfile(t.profile, fmt.Sprintf("idle.heap.%d.pprof", round))
	kb := float64(after-before) / 1024 / float64(n)
	fmt.Fprintf(env.Stdout, "  round: %d sessions up in %s (%.0f logins/s); server RSS %.1f MB before, %s MB after: %.2f KB per session\n",
		n, loginTime.Round(time.Millisecond), float64(n)/loginTime.Seconds(), float64(before)/(1<<20), strings.Join(readings, ", "), kb)
	if stats != "" {
		fmt.Fprintf(env.Stdout, "    server runtime: %s\n", stats)
		// For the diagnosis only: what a GC and returning free memory to
		// the system would leave.
		if resp, err := http.Get("http://" + srv.pprof + "/debug/freeosmemory"); err == nil {
			resp.Body.Close()
			time.Sleep(time.Second)
			if rss, err := bench.RSS(srv.pid); err == nil {
				fmt.Fprintf(env.Stdout, "    after a forced GC and debug.FreeOSMemory: RSS %.1f MB, %.2f KB per session; %s\n",
					float64(rss)/(1<<20), float64(rss-before)/1024/float64(n), srv.memStats())
			}
		}
	}
	return kb, nil
}

// runBenchIdleClient is a child process of "bench idle": it holds sessions
// until its standard input closes.
func runBenchIdleClient(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "bench _idle-client")
	serverURL := fs.String("server", "", "WebSocket URL")
	sdkAppID := fs.Uint64("sdkappid", 0, "SDKAppID")
	first := fs.Int("first", 0, "first user number")
	n := fs.Int("n", 0, "sessions")
	source := fs.String("source", "", "source address")
	clients := fs.Int("clients", 32, "concurrent logins")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	d := &bench.Dialer{}
	if *source != "" {
		d.Sources = []net.IP{net.ParseIP(*source)}
	}
	held, err := bench.Hold(ctx, bench.HoldConfig{
		Target:  bench.Target{URL: *serverURL, SDKAppID: *sdkAppID, Key: env.Getenv("IMKIT_KEY")},
		Dialer:  d,
		Users:   bench.Users("idle", *first, *n),
		Clients: *clients,
	})
	if err != nil {
		return err
	}
	defer held.Close()
	fmt.Fprintf(env.Stdout, "ready %d\n", held.Len())
	var once sync.Once
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, env.Stdin)
		once.Do(func() { close(done) })
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	if c := held.Closed(); c > 0 {
		return fmt.Errorf("the server ended %d of %d sessions while they were held", c, held.Len())
	}
	return nil
}

const benchMsgUsage = `usage: imkit bench msg [flags]

--users users online, one connection each, send one-to-one messages: first
at saturation (every user keeps --window messages in flight), then at the
fixed --rate. Prints messages acknowledged (stored) and delivered per second
and the latency from the sender's send to the receiver's push, all measured
in this process on one clock.

flags:
`

func runBenchMsg(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "bench msg")
	fs.Usage = func() { fmt.Fprint(env.Stderr, benchMsgUsage); fs.PrintDefaults() }
	var t targetFlags
	t.register(fs, env)
	var cfg bench.MsgConfig
	fs.IntVar(&cfg.Users, "users", 1000, "users online")
	fs.BoolVar(&cfg.RandomPeers, "random-peers", false, "send each message to a random user (default: user i to user i+1)")
	saturate := fs.Bool("saturate", true, "measure at saturation")
	rate := fs.Float64("rate", 1000, "then measure at this many messages/s (0: skip)")
	fs.IntVar(&cfg.Window, "window", 1, "at saturation: messages in flight per user")
	fs.IntVar(&cfg.Size, "size", 32, "bytes of text per message")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "uncounted first round")
	fs.DurationVar(&cfg.Duration, "duration", 3*time.Second, "length of a round")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "rounds")
	procs := fs.Int("client-procs", 1, "GOMAXPROCS of the clients when the server runs in another process (0: the Go default)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if t.inprocess && cfg.Users > 9000 {
		return errors.New("--inprocess holds both ends of each connection in one process: at most 9,000 users")
	}
	srv, err := t.start(ctx, env)
	if err != nil {
		return err
	}
	defer srv.close()
	defer t.tuneClients(*procs)()
	cfg.Target, cfg.Dialer, cfg.ServerPID = srv.target, t.dialer(), srv.pid
	cfg.Progress = func(r bench.MsgRound) {
		fmt.Fprintf(env.Stdout, "  round: %6.0f acked/s %6.0f delivered/s  latency p50 %-9s p99 %-9s max %-9s ack p50 %-9s p99 %-9s CPU/msg server %s client %s, server waited for CPU %.0f%%%s\n",
			r.AckRate, r.DeliverRate, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond),
			r.AckP50.Round(time.Microsecond), r.AckP99.Round(time.Microsecond), cpuNote(r.ServerCPU), cpuNote(r.ClientCPU), 100*r.ServerWait, strNote(r.FirstErr))
	}
	phases := []struct {
		name string
		rate float64
		on   bool
	}{{"saturation", 0, *saturate}, {fmt.Sprintf("%.0f msg/s", *rate), *rate, *rate > 0}}
	for _, p := range phases {
		if !p.on {
			continue
		}
		c := cfg
		c.Rate = p.rate
		fmt.Fprintf(env.Stdout, "msg %s: %d users, %d rounds of %s, server %s (%s)\n", p.name, c.Users, c.Rounds, c.Duration, srv.target.URL, loadNote())
		name := "msg.saturation.cpu.pprof"
		if p.rate > 0 {
			name = "msg.rate.cpu.pprof"
		}
		wait := srv.cpuProfile(t.profile, name, c.Warmup+time.Duration(c.Rounds)*c.Duration)
		res, err := bench.Msg(ctx, c)
		wait()
		if err != nil {
			return err
		}
		if p.rate == 0 {
			fmt.Fprintf(env.Stdout, "msg saturation: median %.0f msgs/s stored, %.0f delivered; latency p50 %s p99 %s (goal: at least 13,000/s)%s %s\n",
				res.AckRate, res.DeliverRate, res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond), lossNote(res), loadNote())
		} else {
			fmt.Fprintf(env.Stdout, "msg %s: median latency sender->receiver p50 %s p99 %s (goal: p99 at most 2ms); stored %.0f/s%s %s\n",
				p.name, res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond), res.AckRate, lossNote(res), loadNote())
		}
	}
	srv.heapProfile(t.profile, "msg.heap.pprof")
	return nil
}

func strNote(s string) string {
	if s == "" {
		return ""
	}
	return "; first error: " + s
}

func lossNote(r bench.MsgResult) string {
	if r.Unacked == 0 && r.Undelivered == 0 {
		return "; every message acked and delivered"
	}
	return fmt.Sprintf("; %d never acked, %d acked but never delivered", r.Unacked, r.Undelivered)
}

// tuneClients sets up this process for clients that share the machine with
// a server in another process, and returns what undoes it. The clients
// need a fraction of a core: on procs Ps (one by default) their goroutines
// hand work to each other without waking other threads, which would cost
// CPU the server could use and delay the reads that timestamp arrivals; a
// larger GC target (the clients' heap is a few MB) makes collections rarer.
func (t *targetFlags) tuneClients(procs int) func() {
	if t.inprocess {
		return func() {}
	}
	old := runtime.GOMAXPROCS(0)
	if procs > 0 {
		runtime.GOMAXPROCS(procs)
	}
	gc := debug.SetGCPercent(400)
	return func() {
		runtime.GOMAXPROCS(old)
		debug.SetGCPercent(gc)
	}
}
