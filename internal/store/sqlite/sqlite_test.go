package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"

	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlite"
	"github.com/imkit/imkit/internal/store/storetest"
)

// openTemp opens a new database in a temporary directory, closed when the
// test ends.
func openTemp(t testing.TB, opts sqlite.Options) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "imkit.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t, sqlite.Options{}) })
}

// TestGroupCommit runs concurrent writes, some of which fail or panic: they
// share transactions, yet each fails alone.
func TestGroupCommit(t *testing.T) {
	db := openTemp(t, sqlite.Options{})
	errRefused := errors.New("refused")
	const n = 60
	var wg sync.WaitGroup
	errs := make([]error, n)
	panics := make([]any, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			_, errs[i] = db.Login(t.Context(), store.LoginParams{
				Session: store.Session{ID: fmt.Sprint("s", i), App: app, UserID: fmt.Sprint("u", i%7), Platform: imkit.PlatformWeb, LoginAt: time.Now()},
				Day:     "2025-03-14", Month: "2025-03",
				Decide: func(store.User, []store.Session) ([]store.Kicked, error) {
					switch i % 3 {
					case 1:
						return nil, errRefused
					case 2:
						if i%2 == 0 {
							panic("decide panicked")
						}
					}
					return nil, nil
				},
			})
		}()
	}
	wg.Wait()
	for i := range n {
		_, err := db.Session(t.Context(), fmt.Sprint("s", i))
		switch {
		case i%3 == 1:
			if !errors.Is(errs[i], errRefused) || !errors.Is(err, store.ErrNotFound) {
				t.Errorf("login %d, refused: got error %v, session lookup %v; want %v, not found", i, errs[i], err, errRefused)
			}
		case i%3 == 2 && i%2 == 0:
			if panics[i] != "decide panicked" || !errors.Is(err, store.ErrNotFound) {
				t.Errorf("login %d, panicked: got panic %v, session lookup %v; want the panic, not found", i, panics[i], err)
			}
		default:
			if errs[i] != nil || panics[i] != nil || err != nil {
				t.Errorf("login %d: got error %v, panic %v, session lookup %v; want success", i, errs[i], panics[i], err)
			}
		}
	}
}

// TestCancelAndClose: a cancelled write does nothing; writes racing Close
// either finish or fail, and none runs after it.
func TestCancelAndClose(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "imkit.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.CreateApp(ctx, store.App{SDKAppID: app}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateApp with a cancelled context: got %v, want %v", err, context.Canceled)
	}
	if _, err := db.App(t.Context(), app); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("App after a cancelled CreateApp: got %v, want %v", err, store.ErrNotFound)
	}

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msgs := []*store.Message{{ID: fmt.Sprint(i), From: "a", To: "b", Time: 1}}
			err := db.AppendMessages(context.Background(), app, msgs)
			if err != nil && !strings.Contains(err.Error(), "closed") {
				t.Errorf("AppendMessages racing Close: %v", err)
			}
		}()
	}
	if err := db.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	if err := db.AppendMessages(context.Background(), app, []*store.Message{{From: "a", To: "b"}}); err == nil {
		t.Errorf("AppendMessages after Close: no error")
	}
}

// TestWALRestartsUnderSteadyWrites writes without a pause and waits for the
// checkpointer to start the write-ahead log over, twice: the log stays
// bounded though no moment is free of writes. The WAL header's checkpoint
// sequence number (bytes 12-15) counts the restarts.
func TestWALRestartsUnderSteadyWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "imkit.db")
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{MaxWALPages: 64})
	if err != nil {
		t.Fatal(err)
	}
	restarts := func() uint32 {
		f, err := os.Open(path + "-wal")
		if err != nil {
			return 0
		}
		defer f.Close()
		var h [16]byte
		if _, err := io.ReadFull(f, h[:]); err != nil {
			return 0
		}
		return binary.BigEndian.Uint32(h[12:])
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				m := &store.Message{
					ID: fmt.Sprintf("w%d-%d", w, i), From: fmt.Sprint("u", w), To: fmt.Sprint("u", (w+1+i)%50),
					Time: time.Now().UnixMilli(), Body: []byte(`[{"type":"text","text":"hello"}]`),
				}
				if err := db.AppendMessages(ctx, app, []*store.Message{m}); err != nil && ctx.Err() == nil {
					errc <- err
					return
				}
			}
		})
	}
	first := restarts()
	imkittest.Eventually(t, "the WAL started over twice under steady writes", func() bool {
		return len(errc) > 0 || restarts() >= first+2
	})
	cancel()
	wg.Wait()
	if len(errc) > 0 {
		t.Fatalf("AppendMessages: %v", <-errc)
	}
	// Close while the checkpointer may be about to hold the writer.
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestMigrateClientIDIndex upgrades a database of schema version 1 (the
// dedup index by sender first) with a message in it: the index is rebuilt
// with the ID first, and a retry of the old message is still recognised.
func TestMigrateClientIDIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "imkit.db")
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	msg := func() *store.Message {
		return &store.Message{ID: "k1", ClientMsgID: "0190aa00bb00-c1", From: "u1", To: "u2", Time: 1, Body: []byte(`[]`)}
	}
	if err := db.AppendMessages(t.Context(), app, []*store.Message{msg()}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{ // back to version 1
		`DROP TRIGGER users_made_again`,
		`DROP TABLE revocations`,
		`DROP INDEX messages_client_id`,
		`CREATE UNIQUE INDEX messages_client_id ON messages (app, from_user, client_msg_id) WHERE client_msg_id <> ''`,
		`PRAGMA user_version = 1`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	db = openAt(t, path)
	if v, err := db.SchemaVersion(t.Context()); err != nil || v < 3 {
		t.Fatalf("SchemaVersion = %d, %v; want 3 or later", v, err)
	}
	again := msg()
	again.ID = "k2"
	if err := db.AppendMessages(t.Context(), app, []*store.Message{again}); err != nil {
		t.Fatal(err)
	}
	if !again.Dup || again.ID != "k1" {
		t.Fatalf("the retry after the upgrade = %+v, want the first message, as a duplicate", again)
	}
	raw, err = sql.Open("sqlite", path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var first string
	if err := raw.QueryRow(`SELECT name FROM pragma_index_info('messages_client_id') WHERE seqno = 1`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if first != "client_msg_id" {
		t.Fatalf("the dedup index's second column is %q, want client_msg_id", first)
	}
}

// openAt opens the database at path, closed when the test ends.
func openAt(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
