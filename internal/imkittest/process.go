package imkittest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlite"
)

// ServerProcess is a test server in a child process: the same server as
// RunServer's, with the test app, but with file descriptors of its own, so
// that a test or benchmark can hold many thousand client connections (each
// one descriptor on either side) within the open-files limit of its own
// process.
//
// The test binary serves as the child: call ServeChild first thing in the
// package's TestMain.
type ServerProcess struct {
	// URL is the server's base URL, http://127.0.0.1:port.
	URL string
	// Dir is the data directory.
	Dir string

	t    testing.TB
	addr string
	cfg  ProcessConfig
	cmd  *exec.Cmd
	done chan error
}

// ProcessConfig is the part of server.Config a child process takes (it
// travels as JSON in the environment).
type ProcessConfig struct {
	Heartbeat   time.Duration
	IdleTimeout time.Duration
	ExpiryLead  time.Duration
}

const childEnv = "IMKIT_TEST_SERVER_CHILD"

type childArgs struct {
	Dir, Addr string
	Config    ProcessConfig
}

// RunServerProcess starts a child process serving on a free loopback port
// with a new data directory and the test app; it stops when the test ends.
func RunServerProcess(t testing.TB, cfg ProcessConfig) *ServerProcess {
	t.Helper()
	p := &ServerProcess{t: t, Dir: t.TempDir(), addr: "127.0.0.1:0", cfg: cfg}
	p.start()
	t.Cleanup(p.Stop)
	return p
}

func (p *ServerProcess) start() {
	p.t.Helper()
	args, _ := json.Marshal(childArgs{Dir: p.Dir, Addr: p.addr, Config: p.cfg})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(args))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatalf("server process: %v", err)
	}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("server process: %v", err)
	}
	// The child prints "listening host:port" once it serves.
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				line <- a
			}
		}
		close(line)
	}()
	select {
	case a, ok := <-line:
		if !ok {
			cmd.Wait()
			p.t.Fatalf("server process exited before serving (is imkittest.ServeChild in TestMain?)")
		}
		p.addr = a
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		p.t.Fatalf("server process: not serving after 30s")
	}
	p.URL = "http://" + p.addr
	p.cmd = cmd
	p.done = make(chan error, 1)
	go func() { p.done <- cmd.Wait() }()
}

// Addr returns host:port.
func (p *ServerProcess) Addr() string { return p.addr }

// Stop shuts the server down gracefully (its clients are told to
// reconnect) and waits for the process to end.
func (p *ServerProcess) Stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// Kill ends the server process with SIGKILL, as a crash would: its clients
// see their links die without a close frame. Start starts it again on the
// same address and data.
func (p *ServerProcess) Kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// Restart stops the server and starts a new process on the same address
// and data directory.
func (p *ServerProcess) Restart() {
	p.t.Helper()
	p.Stop()
	p.start()
}

// Start starts a stopped server again on the same address and data.
func (p *ServerProcess) Start() {
	p.t.Helper()
	p.start()
}

// ServeChild serves, and exits, when the process was started by
// RunServerProcess; otherwise it returns at once. Call it first thing in
// TestMain.
func ServeChild() {
	v := os.Getenv(childEnv)
	if v == "" {
		return
	}
	if err := serveChild(v); err != nil {
		fmt.Fprintln(os.Stderr, "imkittest server process:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serveChild(v string) error {
	var a childArgs
	if err := json.Unmarshal([]byte(v), &a); err != nil {
		return err
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(a.Dir, "imkit.db"), sqlite.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.App(ctx, SDKAppID); err != nil {
		if err := st.CreateApp(ctx, store.App{SDKAppID: SDKAppID, Key: Key, Admin: Admin, Policy: imkit.DefaultPolicy, CreatedAt: time.Now()}); err != nil {
			return err
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	srv, err := server.New(server.Config{
		Store: st, Addr: a.Addr,
		Heartbeat: a.Config.Heartbeat, IdleTimeout: a.Config.IdleTimeout, ExpiryLead: a.Config.ExpiryLead,
	})
	if err != nil {
		return err
	}
	err = startOnPort(srv)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", srv.Addr())
	<-stop
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
