package sqlite_test

import (
	"path/filepath"
	"testing"

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
