package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/sdk"
)

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output has no %q within 10s:\n%s", want, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestChat(t *testing.T) {
	srv := imkittest.RunServer(t)
	in, typeLine := io.Pipe()
	out := &syncBuffer{}
	env := &Env{Stdin: in, Stdout: out, Stderr: out, Getenv: func(k string) string {
		if k == "IMKIT_KEY" {
			return imkittest.Key
		}
		return ""
	}}
	done := make(chan int)
	go func() {
		done <- Run(context.Background(), env, []string{"chat", "--server", srv.URL, "--sdkappid", fmt.Sprint(imkittest.SDKAppID), "--user", "alice"})
	}()
	waitOutput(t, out, "logged in as alice")

	got := make(chan *sdk.Message, 10)
	bob, err := sdk.New(imkittest.SDKAppID, sdk.Config{ServerURL: srv.URL, Platform: imkit.PlatformWeb,
		Listener: sdk.Listener{OnRecvNewMessage: func(m *sdk.Message) { got <- m }}})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.UnInit()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bob.Login(ctx, "bob", srv.Sign("bob")); err != nil {
		t.Fatal(err)
	}

	fmt.Fprintln(typeLine, "/to bob")
	fmt.Fprintln(typeLine, "hello from the terminal")
	select {
	case m := <-got:
		if m.Text() != "hello from the terminal" || m.From != "alice" {
			t.Fatalf("bob got %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("bob got nothing; chat output:\n%s", out.String())
	}
	if _, err := bob.SendMessage(ctx, sdk.NewTextMessage("hi alice"), "alice"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "bob: hi alice")
	fmt.Fprintln(typeLine, "/list")
	waitOutput(t, out, "1 unread")
	fmt.Fprintln(typeLine, "/quit")
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("chat exited %d:\n%s", code, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("chat did not quit")
	}
	waitOutput(t, out, "logged out")
}
