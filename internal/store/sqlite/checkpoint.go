package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Checkpoints (copying the WAL back into the database file, with a sync)
// are not left to the committing writer, where they would stall the write
// path every thousand pages: the writer runs with wal_autocheckpoint off and
// pokes a checkpointer goroutine after each commit, which runs a PASSIVE
// checkpoint on a connection of its own, at most every checkpointEvery.
// PASSIVE never blocks the writer or the readers.
//
// A write transaction starts the WAL over only when the whole WAL is
// checkpointed, which under steady writes PASSIVE never achieves (new
// frames arrive while it copies). So once the WAL is past Options.MaxWALPages,
// right after a PASSIVE checkpoint, the checkpointer holds the write path
// (DB.wmu, between two group commits) and runs a RESTART checkpoint: it
// copies only the frames committed during the PASSIVE one, syncs the
// database file, and starts the WAL over. The writer waits for that once per
// MaxWALPages of writes. PASSIVE checkpoints do not sync the database file
// (SQLite syncs it when a checkpoint reaches the end of the WAL), so before
// it holds the writer the checkpointer syncs the file itself: the RESTART's
// sync then finds a few pages to write, not the megabytes every PASSIVE
// copied since the last one (20-30 ms on the development VM's disk, every
// two seconds at 1,000 messages/s, when the writer ran the RESTART itself).

const (
	checkpointEvery    = 200 * time.Millisecond
	defaultMaxWALPages = 16384 // 64 MiB of 4 KiB pages
	// restartBusy bounds the RESTART's wait for readers of old snapshots
	// (and for another process's write); the writer waits meanwhile. A
	// RESTART that gives up is tried again after restartBackoff.
	restartBusy = 50 * time.Millisecond
	// restartBackoff is the pause after a RESTART that did not restart.
	restartBackoff = 2 * time.Second
)

type checkpointer struct {
	db   *sql.DB
	file *os.File    // the database file, only to sync it; nil if it would not open
	max  int         // WAL frames before a restart
	wmu  *sync.Mutex // DB.wmu: held, no write transaction runs
	log  *slog.Logger
	poke chan struct{} // buffered 1: a commit happened
	stop chan struct{}
	done chan struct{}
	once sync.Once
	// notBefore delays the next RESTART after one that failed; only the
	// checkpointer's goroutine uses it.
	notBefore time.Time
}

// startCheckpointer starts the checkpointer of the database file at path,
// on its connection db.
func startCheckpointer(path string, db *sql.DB, wmu *sync.Mutex, maxFrames int, log *slog.Logger) *checkpointer {
	// Closing a descriptor drops every POSIX lock the process holds on the
	// file, SQLite's included: this one is closed only after the
	// connections (see closeFile).
	// Read-write: Windows flushes only such handles.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		log.Warn("sqlite checkpoint: open the database file to sync it", "err", err)
		f = nil
	}
	c := &checkpointer{
		db:   db,
		file: f,
		max:  maxFrames,
		wmu:  wmu,
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
		} else if frames > c.max && time.Now().After(c.notBefore) {
			c.restart(ctx)
		}
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// restart starts the WAL over (see the top of this file).
func (c *checkpointer) restart(ctx context.Context) {
	if c.file != nil {
		if err := datasync(c.file); err != nil {
			c.log.Warn("sqlite checkpoint: sync the database file", "err", err)
		}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var busy, frames, copied int
	err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &frames, &copied)
	switch {
	case err != nil:
		c.log.Warn("sqlite checkpoint", "mode", "RESTART", "err", err)
	case busy != 0:
		// Readers of old snapshots (or another process) held it up for
		// restartBusy: the WAL stays long. Try again in a while, not
		// after every PASSIVE, each time holding the writer.
		c.log.Info("sqlite checkpoint: RESTART gave up, readers busy", "wal_frames", frames)
	default:
		return
	}
	c.notBefore = time.Now().Add(restartBackoff)
}

// halt stops the checkpointer; it may be called more than once. Call it
// without holding wmu.
func (c *checkpointer) halt() {
	if c == nil {
		return
	}
	c.once.Do(func() { close(c.stop) })
	<-c.done
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	c.halt()
	return c.db.Close()
}

// closeFile closes the database file descriptor, once every connection to
// the database is closed.
func (c *checkpointer) closeFile() error {
	if c.file == nil {
		return nil
	}
	err := c.file.Close()
	c.file = nil
	return err
}
