package sqlite_test

import (
	"testing"

	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlite"
	"github.com/imkit/imkit/internal/store/storetest"
)

// The store benchmarks of package storetest, on SQLite. Besides a rate per
// wall second they report the CPU time per op (all goroutines, GC and the
// checkpointer included), which a busy machine disturbs less than the wall
// time: the database's work is this process's.

func open(b *testing.B) store.Store { return openTemp(b, sqlite.Options{}) }

// cpuAndRate is the storetest.Meter of CPU time per op and a wall rate.
func cpuAndRate(b *testing.B) func(n int, unit string) {
	start := cpuTime()
	return func(n int, unit string) {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		storetest.WallRate(b)(n, unit)
	}
}

func BenchmarkLogin(b *testing.B)          { storetest.BenchLogin(b, open, cpuAndRate) }
func BenchmarkAppendMessages(b *testing.B) { storetest.BenchAppendMessages(b, open, cpuAndRate) }
func BenchmarkSync(b *testing.B)           { storetest.BenchSync(b, open, cpuAndRate) }
