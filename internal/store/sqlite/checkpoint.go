package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// Checkpoints (copying the WAL back into the database file, with an fsync)
// are not left to the committing writer, where they would stall the write
// path every thousand pages: the writer runs with wal_autocheckpoint off and
// pokes a checkpointer goroutine after each commit, which runs a PASSIVE
// checkpoint on a connection of its own, at most every checkpointEvery.
// PASSIVE never blocks the writer or the readers. Should the WAL still grow
// past maxWALFrames (readers holding old snapshots), a RESTART checkpoint
// waits for them and lets the next writer start the WAL over.

const (
	checkpointEvery = 50 * time.Millisecond
	maxWALFrames    = 16384 // 64 MiB of 4 KiB pages
)

type checkpointer struct {
	db   *sql.DB
	poke chan struct{} // buffered 1: a commit happened
	stop chan struct{}
	done chan struct{}
}

func startCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{
		db:   db,
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
		if err == nil && frames > maxWALFrames {
			c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(RESTART)")
		}
		// Errors are not fatal: the next round tries again, and the WAL
		// keeps the data meanwhile.
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
