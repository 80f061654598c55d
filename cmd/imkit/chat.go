package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/sdk"
	"github.com/imkit/imkit/usersig"
)

func init() {
	register("chat", "a terminal chat client", runChat)
}

const chatUsage = `usage: imkit chat --sdkappid N --user U (--usersig T | --key K) [flags]

Logs in as U and chats from the terminal: incoming messages print as they
arrive, and lines you type are sent. The ticket is --usersig, or signed
locally with --key (or the environment variable IMKIT_KEY, or the app's key
in --data DIR when the server runs on this machine).

Try two users in two terminals:
  imkit chat --sdkappid N --key K --user alice
  imkit chat --sdkappid N --key K --user bob

At the prompt:
  /to USER        talk to USER (later lines go to them)
  @USER TEXT      send TEXT to USER once
  TEXT            send TEXT to the current peer
  /list           conversations, newest first, with unread counts
  /history [N]    the last N messages with the current peer (default 20)
  /read           mark the conversation with the current peer read
  /quit           log out and leave (so does end of input)

flags:
`

func runChat(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "chat")
	fs.Usage = func() { fmt.Fprint(env.Stderr, chatUsage); fs.PrintDefaults() }
	server := fs.String("server", envOr(env, "IMKIT_SERVER", "ws://127.0.0.1:8080"), "the server's `URL` (env IMKIT_SERVER)")
	appID := fs.Uint64("sdkappid", 0, "the app's SDKAppID")
	user := fs.String("user", "", "log in as this userID")
	sig := fs.String("usersig", "", "the ticket (default: signed locally with --key)")
	key := fs.String("key", "", "the app's secret key, to sign a ticket locally (env IMKIT_KEY)")
	dataDir := fs.String("data", "", "the server's data `directory`, to read the app's key from")
	platform := fs.String("platform", "Linux", "this client's platform: Android, iPhone, iPad, Windows, Mac, Linux or Web")
	cacheDir := fs.String("cache", "", "local cache `directory` (default: in memory)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *appID == 0 || *user == "" {
		fmt.Fprintln(env.Stderr, "imkit chat: --sdkappid and --user are required")
		return exitError{2}
	}
	p, err := imkit.ParsePlatform(*platform)
	if err != nil {
		fmt.Fprintf(env.Stderr, "imkit chat: %s\n", imkit.ErrorMessage(err))
		return exitError{2}
	}
	if *sig == "" {
		k := *key
		if k == "" {
			k = env.Getenv("IMKIT_KEY")
		}
		if k == "" && *dataDir != "" {
			if k, err = keyFromData(ctx, *dataDir, *appID); err != nil {
				return err
			}
		}
		if k == "" {
			fmt.Fprintln(env.Stderr, "imkit chat: give --usersig, or --key (or IMKIT_KEY, or --data) to sign one")
			return exitError{2}
		}
		if *sig, err = usersig.Sign(*appID, k, *user, 24*time.Hour); err != nil {
			return err
		}
	}

	out := &lockedWriter{w: env.Stdout}
	s, err := sdk.New(*appID, sdk.Config{
		ServerURL: *server,
		Platform:  p,
		DataDir:   *cacheDir,
		Listener: sdk.Listener{
			OnConnecting:    func() {},
			OnConnectFailed: func(code imkit.Code, msg string) { out.printf("* cannot reach the server (%d): %s\n", code, msg) },
			OnKickedOffline: func(k sdk.KickInfo) {
				out.printf("* kicked offline (%s) by a login on %s at %s; /quit and log in again\n", k.Reason, k.Platform, k.Time.Format("15:04:05"))
			},
			OnUserSigExpired: func() { out.printf("* the ticket expired; /quit and log in with a new one\n") },
			OnRecvNewMessage: func(m *sdk.Message) {
				if m.From == *user {
					out.printf("[%s] you (elsewhere) -> %s: %s\n", m.Time.Format("15:04:05"), m.To, describe(m))
					return
				}
				out.printf("[%s] %s: %s\n", m.Time.Format("15:04:05"), m.From, describe(m))
			},
		},
	})
	if err != nil {
		return err
	}
	defer s.UnInit()
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = s.Login(lctx, *user, *sig)
	cancel()
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	out.printf("* logged in as %s (%s). /help for commands.\n", *user, p)
	c := &chat{sdk: s, out: out, user: *user}
	c.list(ctx)

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(env.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			return c.quit()
		case line, ok := <-lines:
			if !ok {
				return c.quit()
			}
			if done := c.handle(ctx, strings.TrimSpace(line)); done {
				return c.quit()
			}
		}
	}
}

type chat struct {
	sdk  *sdk.SDK
	out  *lockedWriter
	user string
	peer string
}

func (c *chat) handle(ctx context.Context, line string) (quit bool) {
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	switch {
	case line == "":
	case line == "/quit" || line == "/exit":
		return true
	case line == "/help":
		c.out.printf("%s", chatUsage[strings.Index(chatUsage, "At the prompt:"):strings.Index(chatUsage, "flags:")])
	case strings.HasPrefix(line, "/to "):
		peer := strings.TrimSpace(strings.TrimPrefix(line, "/to "))
		if err := imkit.ValidateUserID(peer); err != nil {
			c.out.printf("* %s\n", imkit.ErrorMessage(err))
			return false
		}
		c.peer = peer
		c.out.printf("* talking to %s\n", peer)
	case line == "/list":
		c.list(rctx)
	case line == "/history" || strings.HasPrefix(line, "/history "):
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "/history")))
		if err != nil {
			n = 20
		}
		c.history(rctx, n)
	case line == "/read":
		if c.peer == "" {
			c.out.printf("* pick a peer first: /to USER\n")
			return false
		}
		if err := c.sdk.MarkConversationRead(rctx, c.peer); err != nil {
			c.out.printf("* %v\n", err)
		}
	case strings.HasPrefix(line, "@"):
		to, text, _ := strings.Cut(line[1:], " ")
		c.send(rctx, to, text)
	case strings.HasPrefix(line, "/"):
		c.out.printf("* unknown command; /help lists them\n")
	default:
		if c.peer == "" {
			c.out.printf("* pick a peer first: /to USER (or @USER text)\n")
			return false
		}
		c.send(rctx, c.peer, line)
	}
	return false
}

func (c *chat) send(ctx context.Context, to, text string) {
	if text == "" {
		return
	}
	m, err := c.sdk.SendMessage(ctx, sdk.NewTextMessage(text), to)
	if err != nil {
		c.out.printf("* not sent: %v\n", err)
		return
	}
	c.out.printf("[%s] you -> %s: %s\n", m.Time.Format("15:04:05"), to, text)
}

func (c *chat) list(ctx context.Context) {
	convs, more, err := c.sdk.ConversationList(ctx, 0, 20)
	if err != nil {
		c.out.printf("* conversations: %v\n", err)
		return
	}
	if len(convs) == 0 {
		c.out.printf("* no conversations yet\n")
		return
	}
	c.out.printf("* conversations:\n")
	for _, cv := range convs {
		last := ""
		if cv.LastMessage != nil {
			last = describe(cv.LastMessage)
		}
		c.out.printf("  %-16s %3d unread  %s  %s\n", cv.Peer, cv.Unread, cv.Time.Format("01-02 15:04"), last)
	}
	if more {
		c.out.printf("  ...\n")
	}
}

func (c *chat) history(ctx context.Context, n int) {
	if c.peer == "" {
		c.out.printf("* pick a peer first: /to USER\n")
		return
	}
	msgs, _, err := c.sdk.History(ctx, c.peer, 0, max(1, min(n, 100)))
	if err != nil {
		c.out.printf("* history: %v\n", err)
		return
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		from := m.From
		if from == c.user {
			from = "you"
		}
		c.out.printf("[%s] %s: %s\n", m.Time.Format("01-02 15:04:05"), from, describe(m))
	}
}

func (c *chat) quit() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.sdk.Logout(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	c.out.printf("* logged out\n")
	return nil
}

// describe renders a message's elements on one line.
func describe(m *sdk.Message) string {
	var parts []string
	for _, e := range m.Elems {
		if e.Type == "text" {
			parts = append(parts, e.Text)
		} else {
			parts = append(parts, fmt.Sprintf("[custom %q]", e.Data))
		}
	}
	return strings.Join(parts, " ")
}

// lockedWriter serialises output from the prompt and the callbacks.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

// keyFromData reads an app's key from a local data directory.
func keyFromData(ctx context.Context, dir string, appID uint64) (string, error) {
	st, err := openStore(ctx, dir, "")
	if err != nil {
		return "", err
	}
	defer st.Close()
	a, err := st.App(ctx, appID)
	if err != nil {
		return "", fmt.Errorf("app %d in %s: %w", appID, dir, err)
	}
	return a.Key, nil
}
