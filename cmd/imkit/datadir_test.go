package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/internal/store/sqlite"
)

// The data directory holds the secret keys in its database: serve makes
// it 0700 and its files 0600, a new one as well as one that was there with
// looser modes, and warns about the latter. (Before, a pre-existing
// directory kept 0755 and the database was 0644.)
func TestDataDirPermissions(t *testing.T) {
	serve := func(dir string) string {
		t.Helper()
		var logs bytes.Buffer
		m := &Main{DataDir: dir, Config: server.Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(&logs, nil))}, Out: io.Discard}
		if err := m.Run(context.Background()); err != nil {
			m.Close()
			t.Fatal(err)
		}
		defer m.Close()
		for name, want := range map[string]os.FileMode{
			dir: 0o700, filepath.Join(dir, "imkit.db"): 0o600,
			filepath.Join(dir, "imkit.db-wal"): 0o600, filepath.Join(dir, "imkit.db-shm"): 0o600,
		} {
			fi, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s: mode %#o, want %#o", filepath.Base(name), got, want)
			}
		}
		return logs.String()
	}

	if logs := serve(filepath.Join(t.TempDir(), "new")); strings.Contains(logs, "tightened") {
		t.Errorf("a new data directory: warned %q", logs)
	}

	old := filepath.Join(t.TempDir(), "old")
	if err := os.Mkdir(old, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(old, "imkit.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := os.Chmod(filepath.Join(old, "imkit.db"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := serve(old)
	for _, want := range []string{"imkit.db was=0644 now=0600", "old was=0755 now=0700"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log %q: want a warning with %q", logs, want)
		}
	}
}
