package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlite"
)

const app = 1400000001

// crashEnv names the database a crashing child process writes to.
const (
	crashEnv     = "IMKIT_SQLITE_CRASH_DB"
	crashSyncEnv = "IMKIT_SQLITE_CRASH_SYNC"
)

// crashBatches are what the child appends before it says "ok": 3 batches of
// 100 messages.
const crashBatches, crashBatchSize = 3, 100

func crashMessage(batch, i int) *store.Message {
	n := batch*crashBatchSize + i
	return &store.Message{
		ID:          fmt.Sprint("m", n),
		ClientMsgID: fmt.Sprint("c", n),
		From:        "alice",
		To:          "bob",
		Time:        time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC).UnixMilli() + int64(n),
		Body:        []byte(fmt.Sprintf(`{"n":%d}`, n)),
	}
}

// TestCrash appends messages in a child process that is killed with SIGKILL
// before it closes the database, and finds every acknowledged message after
// reopening.
func TestCrash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path, os.Getenv(crashSyncEnv))
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	for _, mode := range []string{"NORMAL", "FULL"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "imkit.db")
			db, err := sqlite.Open(t.Context(), path, sqlite.Options{Synchronous: mode})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.CreateApp(t.Context(), store.App{SDKAppID: app, Key: "k", Admin: "admin", Policy: imkit.PolicyDual}); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrash$")
			cmd.Env = append(os.Environ(), crashEnv+"="+path, crashSyncEnv+"="+mode)
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ok := false
			for sc := bufio.NewScanner(out); sc.Scan(); {
				if strings.TrimSpace(sc.Text()) == "ok" {
					ok = true
					break
				}
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			cmd.Wait()
			if !ok {
				t.Fatal(`the child process did not say "ok"`)
			}

			db, err = sqlite.Open(t.Context(), path, sqlite.Options{Synchronous: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			got, maxSeq, err := db.Sync(t.Context(), app, "bob", 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if want := crashBatches * crashBatchSize; len(got) != want || maxSeq != uint64(want) {
				t.Fatalf("after the crash bob's mailbox holds %d messages up to seq %d, want %d", len(got), maxSeq, want)
			}
			for b := range crashBatches {
				for i := range crashBatchSize {
					e := got[b*crashBatchSize+i]
					want := crashMessage(b, i)
					if e.ID != want.ID || string(e.Body) != string(want.Body) || e.ToSeq != uint64(b*crashBatchSize+i+1) {
						t.Fatalf("after the crash entry %d = %+v, want message %+v", b*crashBatchSize+i, e, want)
					}
				}
			}
			// Nothing half-written: the dedup index knows them all.
			again := crashMessage(1, 7)
			if err := db.AppendMessages(t.Context(), app, []*store.Message{again}); err != nil {
				t.Fatal(err)
			}
			if !again.Dup {
				t.Errorf("a message stored before the crash is not found again as a duplicate")
			}
		})
	}
}

// crashChild appends the crash messages, says "ok" and waits to be killed.
func crashChild(path, mode string) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path, sqlite.Options{Synchronous: mode})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for b := range crashBatches {
		msgs := make([]*store.Message, crashBatchSize)
		for i := range msgs {
			msgs[i] = crashMessage(b, i)
		}
		if err := db.AppendMessages(ctx, app, msgs); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	fmt.Println("ok")
	time.Sleep(time.Minute) // killed before then
	os.Exit(3)
}

// TestReopen closes and reopens a database: the data and the schema version
// stay, and migrations don't run twice.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "imkit.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	version, err := db.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if version < 1 {
		t.Fatalf("SchemaVersion = %d, want at least 1", version)
	}
	a := store.App{SDKAppID: app, Key: "k", Admin: "admin", Policy: imkit.PolicyTriple,
		MaxInstances: map[imkit.Platform]int{imkit.PlatformWeb: 4}, CreatedAt: time.UnixMilli(1741949213589).UTC()}
	if err := db.CreateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	m := &store.Message{ID: "m1", ClientMsgID: "c1", From: "alice", To: "bob", Time: 1741949213589, Body: []byte(`"hi"`)}
	if err := db.AppendMessages(ctx, app, []*store.Message{m}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := db.App(ctx, app); err == nil {
		t.Errorf("App on a closed DB: no error")
	}

	for range 2 {
		db, err = sqlite.Open(ctx, path, sqlite.Options{Synchronous: "full"})
		if err != nil {
			t.Fatal(err)
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != version {
			t.Errorf("SchemaVersion after reopening = %d, want %d", v, version)
		}
		got, err := db.App(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(a, got); d != "" {
			t.Errorf("App after reopening (-want +got):\n%s", d)
		}
		es, maxSeq, err := db.Sync(ctx, app, "bob", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 1 || es[0].ID != "m1" || maxSeq != 1 {
			t.Errorf("Sync after reopening = %+v, %d; want m1, 1", es, maxSeq)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// A database from a newer imkit is refused.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", version+1)); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if db, err := sqlite.Open(ctx, path, sqlite.Options{}); err == nil {
		db.Close()
		t.Errorf("Open of a database with a newer schema: no error")
	}
}

func TestOpenOptions(t *testing.T) {
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), sqlite.Options{Synchronous: "OFF"}); err == nil {
		t.Errorf("Open with Synchronous OFF: no error")
	}
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "no-such-dir", "x.db"), sqlite.Options{}); err == nil {
		t.Errorf("Open in a missing directory: no error")
	}
	// A path with URI characters is a plain path.
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "a?b#c%d.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := os.Stat(filepath.Join(dir, "a?b#c%d.db")); err != nil {
		t.Errorf("the database file: %v", err)
	}
}
