package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/imkit/imkit"

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
