package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/sdk"
)

// The browser tests drive the SDK in a real headless Chromium (Debian's
// package chromium) with chromedp, against a real server on 127.0.0.1. The
// page under test is served from an origin of its own (as an app's would
// be) and loads the SDK from the imkit server's /sdk/imkit-chat.js. They
// skip when no Chromium is installed, unless IMKIT_REQUIRE_BROWSER=1 (or
// IMKIT_REQUIRE_SERVICES=1, as .ci/run sets) makes them required.

func TestMain(m *testing.M) {
	imkittest.ServeChild() // when this process is a RunServerProcess child
	os.Exit(m.Run())
}

// chromium returns the browser's path, or skips (or fails) the test.
func chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("IMKIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("IMKIT_REQUIRE_BROWSER") == "1" || os.Getenv(imkittest.RequireEnv) == "1" {
		t.Fatal("no Chromium found (apt-get install chromium), and IMKIT_REQUIRE_BROWSER or IMKIT_REQUIRE_SERVICES requires the browser tests")
	}
	t.Skip("no Chromium found (apt-get install chromium); skipping the browser tests")
	return ""
}

// harnessHTML is the page under test: it loads harness.js, which imports
// the SDK from the server named in the query string (a URL, never a
// ticket).
const harnessHTML = `<!doctype html>
<meta charset="utf-8"><title>imkit browser test</title>
<script>window.ready = new Promise((ok, fail) => { window.setReady = ok; window.setFailed = fail; });</script>
<script type="module" src="/harness.js"></script>
`

// harnessJS records every event of each chat it creates and lets the Go
// test wait on them (event-driven, with deadlines).
const harnessJS = `
const server = new URLSearchParams(location.search).get("server");
try {
  const { default: IMKitChat } = await import(server + "/sdk/imkit-chat.js");
  const chats = {};
  const h = {
    IMKitChat, server,
    create(name, opts = {}) {
      const chat = IMKitChat.create({ SDKAppID: 1400000001, serverURL: server, reconnectMinMs: 50, reconnectMaxMs: 1000, ...opts });
      const c = { chat, log: [], texts: [], waiters: new Set() };
      for (const ev of Object.values(IMKitChat.EVENT)) {
        chat.on(ev, (e) => {
          if (e.name === "onMessageReceived") for (const m of e.data) c.texts.push(m.payload.text ?? m.payload.data);
          c.log.push({ name: e.name, data: JSON.parse(JSON.stringify(e.data)), at: performance.now() });
          for (const w of [...c.waiters]) w();
        });
      }
      chats[name] = c;
      return chat;
    },
    chat(name) { return chats[name].chat; },
    log(name) { return chats[name].log; },
    // names lists the events in order, shortly: "net:connected", "kicked:multipleDevice", "sdkStateReady".
    names(name) {
      return chats[name].log.map((e) => e.name === "netStateChange" ? "net:" + e.data.state
        : e.name === "kickedOut" ? "kicked:" + e.data.type : e.name);
    },
    // until resolves when cond() holds, checked now and after each event of the chat.
    until(name, cond, what, timeoutMs = 20000) {
      const c = chats[name];
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          c.waiters.delete(check);
          reject(new Error(name + ": timed out waiting for " + what + "; events: " + JSON.stringify(h.names(name))));
        }, timeoutMs);
        function check() {
          const v = cond();
          if (!v) return false;
          clearTimeout(t);
          c.waiters.delete(check);
          resolve(v);
          return true;
        }
        if (!check()) c.waiters.add(check);
      });
    },
    // event resolves with the n-th event called evName.
    event(name, evName, n = 1, timeoutMs) {
      return h.until(name, () => chats[name].log.filter((e) => e.name === evName)[n - 1], evName + " #" + n, timeoutMs);
    },
    count(name, evName) { return chats[name].log.filter((e) => e.name === evName).length; },
    // net counts the chat's NET_STATE_CHANGE events to state.
    net(name, state) { return h.names(name).filter((n) => n === "net:" + state).length; },
    // received lists the texts of the messages the chat received.
    received(name) { return chats[name].texts; },
    // settle turns a call's promise into {code, data} or {code, message}.
    async settle(p) {
      try {
        const v = await p;
        return { code: 0, data: v && v.data !== undefined ? v.data : null };
      } catch (e) {
        return { code: typeof e.code === "number" ? e.code : -1, message: String(e && e.message) };
      }
    },
  };
  window.h = h;
  window.setReady(true);
} catch (e) {
  window.setFailed(e);
}
`

// pageServer serves the page under test on an origin of its own.
var pageServer = sync.OnceValue(func() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, harnessHTML)
	})
	mux.HandleFunc("/harness.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		fmt.Fprint(w, harnessJS)
	})
	return httptest.NewServer(mux)
})

// browser is one Chromium with a fresh profile, for one test.
type browser struct {
	t   testing.TB
	ctx context.Context // the first tab's
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	path := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Tabs in the background keep their timers: eleven tabs of one
		// user each keep their heartbeats.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &browser{t: t, ctx: ctx}
}

// tab is one browser tab showing the page under test.
type tab struct {
	t   testing.TB
	ctx context.Context
	url string
}

// open opens the page under test in the browser's first tab, loading the
// SDK from the server at serverURL.
func (b *browser) open(serverURL string) *tab {
	b.t.Helper()
	tb := &tab{t: b.t, ctx: b.ctx}
	tb.load(serverURL)
	return tb
}

// newTab opens the page in another tab of the same browser (another Web
// instance of the same origin, sharing its IndexedDB).
func (b *browser) newTab(serverURL string) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	tb := &tab{t: b.t, ctx: ctx}
	tb.load(serverURL)
	return tb
}

func (tb *tab) load(serverURL string) {
	tb.t.Helper()
	tb.url = pageServer().URL + "/?server=" + url.QueryEscape(serverURL)
	if err := chromedp.Do(tb.ctx, chromedp.Navigate(tb.url)); err != nil {
		tb.t.Fatalf("open the page: %v", err)
	}
	tb.eval(`await window.ready`, nil)
}

// reload reloads the page: the SDK instances on it are gone, IndexedDB stays.
func (tb *tab) reload() {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.Navigate(tb.url)); err != nil {
		tb.t.Fatalf("reload the page: %v", err)
	}
	tb.eval(`await window.ready`, nil)
}

// eval runs the body of an async function in the page and decodes what it
// returns into out (nil: ignore). A thrown error fails the test.
func (tb *tab) eval(body string, out any) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => { `+body+` })().then((v) => JSON.stringify(v === undefined ? null : v))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("in the browser: %v\n  evaluating: %s", err, body)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(s), out); err != nil {
			tb.t.Fatalf("in the browser: decode %s: %v", s, err)
		}
	}
}

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// result is what h.settle returns.
type result struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// call runs expr (a promise) in the page and returns how it settled.
func (tb *tab) call(expr string) result {
	tb.t.Helper()
	var r result
	tb.eval(`return await h.settle(`+expr+`)`, &r)
	return r
}

// mustCall is call that fails the test unless the promise resolved.
func (tb *tab) mustCall(expr string) result {
	tb.t.Helper()
	r := tb.call(expr)
	if r.Code != 0 {
		tb.t.Fatalf("%s: code %d: %s", expr, r.Code, r.Message)
	}
	return r
}

// wantCode fails the test unless expr rejected with code.
func (tb *tab) wantCode(what, expr string, code imkit.Code) {
	tb.t.Helper()
	if r := tb.call(expr); r.Code != int(code) {
		tb.t.Errorf("%s: code %d (%s), want %d", what, r.Code, r.Message, code)
	}
}

// names returns the short names of chat's events so far.
func (tb *tab) names(chat string) []string {
	tb.t.Helper()
	var n []string
	tb.eval(`return h.names(`+js(chat)+`)`, &n)
	return n
}

// login creates chat (when it does not exist) and logs it in as user with a
// fresh ticket, waiting for SDK_READY.
func (tb *tab) login(chat, user, sig string) {
	tb.t.Helper()
	tb.mustCall(`h.chat(` + js(chat) + `).login({ userID: ` + js(user) + `, userSig: ` + js(sig) + ` })`)
	tb.eval(`await h.event(`+js(chat)+`, "sdkStateReady")`, nil)
}

// create makes a chat on the page; opts is a JavaScript object literal.
func (tb *tab) create(chat, opts string) {
	tb.t.Helper()
	if opts == "" {
		opts = "{}"
	}
	tb.eval(`h.create(`+js(chat)+`, `+opts+`)`, nil)
}

// peer is a Go SDK instance talking to the browser.
type peer struct {
	*sdk.SDK
	t testing.TB

	mu    sync.Mutex
	msgs  []*sdk.Message
	kicks []sdk.KickInfo
}

func newPeer(t testing.TB, serverURL string, p imkit.Platform) *peer {
	t.Helper()
	c := &peer{t: t}
	s, err := sdk.New(imkittest.SDKAppID, sdk.Config{
		ServerURL:    serverURL,
		Platform:     p,
		ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 500 * time.Millisecond,
		Listener: sdk.Listener{
			OnRecvNewMessage: func(m *sdk.Message) {
				c.mu.Lock()
				c.msgs = append(c.msgs, m)
				c.mu.Unlock()
			},
			OnKickedOffline: func(k sdk.KickInfo) {
				c.mu.Lock()
				c.kicks = append(c.kicks, k)
				c.mu.Unlock()
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.UnInit() })
	c.SDK = s
	return c
}

func (p *peer) login(user string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Login(ctx, user, imkittest.SignFor(p.t, user, time.Hour)); err != nil {
		p.t.Fatalf("Go SDK login as %s: %v", user, err)
	}
}

func (p *peer) send(text, to string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.SendMessage(ctx, sdk.NewTextMessage(text), to); err != nil {
		p.t.Fatalf("Go SDK send: %v", err)
	}
}

// received counts the messages with text the peer received.
func (p *peer) received(text string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.msgs {
		if m.Text() == text || (len(m.Elems) > 0 && m.Elems[0].Data == text) {
			n++
		}
	}
	return n
}

func (p *peer) kicked() []sdk.KickInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]sdk.KickInfo(nil), p.kicks...)
}

// wantEvents fails the test unless got holds want in order (other events
// may come between).
func wantEvents(t testing.TB, who string, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("%s's events = %s\nwant in order: %s", who, strings.Join(got, ", "), strings.Join(want, ", "))
	}
}
