package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/sdk"
	"github.com/imkit/imkit/usersig"
)

// child is "imkit serve" running in a child process.
type child struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

func startServe(t *testing.T, dir, addr string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(os.Environ(), "IMKIT_TEST_MAIN=1",
		"IMKIT_TEST_ARGS="+strings.Join([]string{"serve", "--data", dir, "--addr", addr, "--log-level", "warn"}, "\x1f"))
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c
			}
		}
		if time.Now().After(deadline) {
			c.cmd.Process.Kill()
			c.cmd.Wait()
			t.Fatalf("imkit serve did not come up: %v\n%s", err, c.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill9 kills the child with SIGKILL: no shutdown, no flush.
func (c *child) kill9(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
}

// Every message acknowledged to its sender survives kill -9 of the server.
func TestAckedMessagesSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	const app, key = 1400000777, "kill9-key"
	var out bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	if code := Run(context.Background(), env, []string{"app", "create", "--data", dir, "--sdkappid", fmt.Sprint(app), "--key", key}); code != 0 {
		t.Fatalf("app create: %d\n%s", code, out.String())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv := startServe(t, dir, addr)
	defer func() {
		srv.cmd.Process.Kill()
		srv.cmd.Wait()
	}()

	sign := func(user string) string {
		s, err := usersig.Sign(app, key, user, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	newSDK := func() *sdk.SDK {
		s, err := sdk.New(app, sdk.Config{ServerURL: "ws://" + addr, Platform: imkit.PlatformLinux, DataDir: t.TempDir(),
			ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.UnInit() })
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := newSDK()
	if err := alice.Login(ctx, "alice", sign("alice")); err != nil {
		t.Fatal(err)
	}

	// Send from several goroutines; kill the server while sends are in
	// flight. Only acknowledged messages count.
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
				m, err := alice.SendMessage(sctx, sdk.NewTextMessage(fmt.Sprintf("g%d-%d", g, i)), "bob")
				scancel()
				if err == nil {
					mu.Lock()
					acked[m.MsgID] = true
					mu.Unlock()
				}
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d messages acknowledged", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.kill9(t)
	close(stop)
	wg.Wait()

	srv = startServe(t, dir, addr)
	bob := newSDK()
	if err := bob.Login(ctx, "bob", sign("bob")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	want := len(acked)
	mu.Unlock()
	// Page through bob's history with alice: every acknowledged message is
	// there.
	got := map[string]bool{}
	before := uint64(0)
	for {
		page, more, err := bob.History(ctx, "alice", before, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			got[m.MsgID] = true
			before = m.ConvSeq
		}
		if !more {
			break
		}
	}
	for id := range acked {
		if !got[id] {
			t.Errorf("acknowledged message %s is lost", id)
		}
	}
	t.Logf("%d acknowledged messages, %d stored, all acknowledged ones survived kill -9", want, len(got))
	if alice.LoginStatus() != imkit.LoginStatusLogined {
		t.Errorf("alice's status = %v, want LOGINED after the server came back", alice.LoginStatus())
	}
}
