package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"sync/atomic"
	"time"
)

// Checkpoints (copying the WAL back into the database file, with an fsync)
// are not left to the committing writer, where they would stall the write
// path every thousand pages: the writer runs with wal_autocheckpoint off and
// pokes a checkpointer goroutine after each commit, which runs a PASSIVE
// checkpoint on a connection of its own, at most every checkpointEvery.
// PASSIVE never blocks the writer or the readers.
//
// A write transaction starts the WAL over only when the whole WAL is
// checkpointed, which under steady writes PASSIVE never achieves (new
// frames arrive while it copies). So once the WAL is past maxWALFrames the
// checkpointer asks the writer, which between two transactions runs a
// RESTART checkpoint itself: it copies the little PASSIVE left, waits for
// readers of old snapshots, and the next transaction starts the WAL over.

const (
	checkpointEvery = 200 * time.Millisecond
	maxWALFrames    = 16384 // 64 MiB of 4 KiB pages
)

type checkpointer struct {
	db      *sql.DB
	log     *slog.Logger
	poke    chan struct{} // buffered 1: a commit happened
	restart atomic.Bool   // the WAL is long: the writer should restart it
	stop    chan struct{}
	done    chan struct{}
}

func startCheckpointer(db *sql.DB, log *slog.Logger) *checkpointer {
	c := &checkpointer{
		db:   db,
		log:  log,
		poke: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go c.run()
	return c
}

// poked tells the checkpointer that the WAL grew.
func (c *checkpointer) poked() {
	if c == nil {
		return
	}
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	ctx := context.Background()
	for {
		select {
		case <-c.stop:
			return
		case <-c.poke:
		}
		var busy, frames, copied int
		err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
		if err != nil {
			// Not fatal: the WAL keeps the data, and the next round tries
			// again.
			c.log.Warn("sqlite checkpoint", "err", err)
		} else if frames > maxWALFrames {
			c.restart.Store(true)
		}
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// restartWanted reports, once, that the writer should restart the WAL.
func (c *checkpointer) restartWanted() bool {
	return c != nil && c.restart.Load() && c.restart.CompareAndSwap(true, false)
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
