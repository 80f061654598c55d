package postgres_test

import (
	"testing"

	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/postgres"
	"github.com/imkit/imkit/internal/store/storetest"
)

// The store benchmarks of package storetest, against the test PostgreSQL
// (see imkittest.PostgresDSN); they skip when it is unreachable. Each
// reports a rate per wall second; the database server's CPU is not the
// benchmark process's, so there is no CPU time per op here.

func open(b *testing.B) store.Store { return openTest(b, postgres.Options{}) }

func BenchmarkLogin(b *testing.B) { storetest.BenchLogin(b, open, storetest.WallRate) }
func BenchmarkAppendMessages(b *testing.B) {
	storetest.BenchAppendMessages(b, open, storetest.WallRate)
}
func BenchmarkSync(b *testing.B) { storetest.BenchSync(b, open, storetest.WallRate) }
