package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/gateway"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/session"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlite"
	"github.com/imkit/imkit/protocol"
)

// kickAfterLogin is a store whose Login is followed at once, before the
// gateway can reply, by an admin kick of the user: the race a kick from
// another node or another login can always win.
type kickAfterLogin struct {
	store.Store
	kick func(app uint64, user string)
}

func (s *kickAfterLogin) Login(ctx context.Context, p store.LoginParams) (store.LoginResult, error) {
	res, err := s.Store.Login(ctx, p)
	if err == nil {
		s.kick(p.Session.App, p.Session.UserID)
	}
	return res, err
}

// newGateway serves a gateway over a store wrapped by wrap.
func newGateway(t *testing.T, wrap func(store.Store, func() *session.Service) session.Store) string {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "imkit.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateApp(ctx, store.App{SDKAppID: imkittest.SDKAppID, Key: imkittest.Key, Policy: imkit.DefaultPolicy}); err != nil {
		t.Fatal(err)
	}
	hub := gateway.NewHub()
	var sessions *session.Service
	sessions = session.New(session.Config{Store: wrap(st, func() *session.Service { return sessions }), Notifier: hub})
	gw := gateway.New(gateway.Config{Sessions: sessions, Hub: hub})
	hs := httptest.NewServer(gw)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + protocol.Path
}

// A kick committed between a login's decision and its reply reaches the
// client after the reply: the login succeeded, then the session was kicked.
// (Before, the kick and the close overtook the reply, and the client's
// Login failed with a lost connection, never told it was kicked.)
func TestKickAfterLoginComesAfterTheReply(t *testing.T) {
	var once sync.Once
	url := newGateway(t, func(st store.Store, sessions func() *session.Service) session.Store {
		return &kickAfterLogin{Store: st, kick: func(app uint64, user string) {
			once.Do(func() {
				if _, err := sessions().KickUser(context.Background(), app, user); err != nil {
					t.Errorf("kick: %v", err)
				}
			})
		}}
	})
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	login, _ := protocol.AppendRequest(nil, 1, protocol.OpLogin, protocol.LoginRequest{
		SDKAppID: imkittest.SDKAppID, UserID: "alice", UserSig: imkittest.SignFor(t, "alice", time.Hour),
		Platform: imkit.PlatformAndroid, InstanceID: "i1",
	})
	if err := ws.WriteMessage(websocket.TextMessage, login); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var frames []protocol.Frame
	var closeCode int
	for {
		_, b, err := ws.ReadMessage()
		if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
			closeCode = ce.Code
			break
		}
		if err != nil {
			t.Fatalf("read: %v (after %d frames)", err, len(frames))
		}
		f, err := protocol.DecodeFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
	}
	if len(frames) != 2 || !frames[0].IsReply() || frames[0].Err() != nil || frames[1].Op != protocol.PushKicked {
		t.Fatalf("frames %+v, want the login reply, then the kick", frames)
	}
	var k protocol.Kick
	if err := json.Unmarshal(frames[1].Data, &k); err != nil || k.Reason != imkit.KickAdmin {
		t.Fatalf("kick %s (%v), want reason admin", frames[1].Data, err)
	}
	if closeCode != protocol.CloseKicked {
		t.Fatalf("close %d, want %d", closeCode, protocol.CloseKicked)
	}
}
