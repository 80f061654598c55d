package sqlite

import (
	"context"
	"fmt"
)

// Writes are group-committed. Each write is a function run in a transaction;
// concurrent writes queue up, and the first of them leads: it runs every
// queued write (up to maxGroup) in one transaction, each in a savepoint of
// its own, commits once, and hands the lead to the first write queued
// meanwhile. A write's caller returns after the commit that made it durable.
// So under load a commit, with its WAL writes and locks, serves many
// writes, and a lone write costs no more than a transaction of its own.

// maxGroup bounds the writes of one group commit.
const maxGroup = 64

// op is one queued write.
type op struct {
	ctx   context.Context
	fn    func(*tx) error
	err   error
	panic any           // what fn panicked with
	wake  chan struct{} // receives when the op is done or is to lead
	lead  bool          // set before wake: the op is to lead the next group
	keep  bool          // fn keeps the message cache true (see updateKeep)
}

// update runs fn in a write transaction, committed when fn returns nil, and
// returns fn's error as it is. Once begun, fn is not cancelled by ctx: it is
// short, and finishing it is cheaper than undoing it. fn may share its
// transaction with other writes, in a savepoint of its own: when the commit
// fails after fn returned nil, update returns the commit's error, so what fn
// found counts only when update returns nil.
func (db *DB) update(ctx context.Context, fn func(*tx) error) error {
	return db.updateOp(ctx, fn, false)
}

// updateKeep is update for a write that keeps the message cache (see
// msgCache) true: it changes no mailbox, conversation seq, account's
// existence or send day, or tells the cache what it changed. After any
// other write the cache is emptied.
func (db *DB) updateKeep(ctx context.Context, fn func(*tx) error) error {
	return db.updateOp(ctx, fn, true)
}

func (db *DB) updateOp(ctx context.Context, fn func(*tx) error, keep bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{ctx: ctx, fn: fn, wake: make(chan struct{}, 1), keep: keep}
	db.qmu.Lock()
	if db.closed {
		db.qmu.Unlock()
		return errClosed
	}
	db.queue = append(db.queue, o)
	lead := !db.leading
	db.leading = true
	db.qmu.Unlock()

	if !lead {
		<-o.wake
		lead = o.lead
	}
	if lead {
		db.qmu.Lock()
		n := min(len(db.queue), maxGroup)
		group := db.queue[:n:n]
		db.queue = db.queue[n:]
		db.qmu.Unlock()

		db.runGroup(group) // o is group[0]

		for _, g := range group[1:] {
			g.wake <- struct{}{}
		}
		db.qmu.Lock()
		if len(db.queue) > 0 {
			next := db.queue[0]
			next.lead = true
			next.wake <- struct{}{}
		} else {
			db.leading = false
			db.queue = nil
		}
		db.qmu.Unlock()
	}
	if o.panic != nil {
		panic(o.panic)
	}
	return o.err
}

// runGroup runs the writes of group in one transaction and sets their
// errors.
func (db *DB) runGroup(group []*op) {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if db.w == nil {
		failAll(group, errClosed)
		return
	}
	err := db.w.Raw(func(dc any) error {
		c, ok := dc.(driverConn)
		if !ok {
			return fmt.Errorf("sqlite: driver connection %T cannot execute with a context", dc)
		}
		t := &tx{c: c, s: &db.ws, mc: &db.mc}
		if t.runGroup(group) {
			db.ckpt.poked()
		}
		return nil
	})
	if err != nil {
		failAll(group, err)
	}
}

// failAll sets err as the error of each write of ops that has none.
func failAll(ops []*op, err error) {
	for _, o := range ops {
		if o.err == nil && o.panic == nil {
			o.err = err
		}
	}
}

// runGroup runs the writes of group in a transaction on t, and reports
// whether it committed.
func (t *tx) runGroup(group []*op) bool {
	abort := func(ops []*op, err error) bool {
		failAll(ops, err)
		t.exec(t.s.rollback)
		t.mc.clear()
		return false
	}
	if _, err := t.exec(t.s.begin); err != nil {
		failAll(group, fmt.Errorf("sqlite: begin: %w", err))
		return false
	}
	t.mcChecked = false
	if len(group) == 1 {
		o := group[0]
		if o.err = o.ctx.Err(); o.err == nil {
			o.err = o.run(t)
		}
		if o.err != nil || o.panic != nil {
			t.exec(t.s.rollback)
			t.mc.clear()
			return false
		}
	} else {
		for i, o := range group {
			if o.err = o.ctx.Err(); o.err != nil {
				continue
			}
			if _, err := t.exec(t.s.savepoint); err != nil {
				return abort(group[i:], fmt.Errorf("sqlite: savepoint: %w", err))
			}
			o.err = o.run(t)
			if o.err != nil || o.panic != nil {
				if _, err := t.exec(t.s.rollbackTo); err != nil {
					// The transaction is gone with it (SQLite rolls back
					// all of it on some errors): so is the group.
					return abort(group, fmt.Errorf("sqlite: rollback after %v: %w", o.err, err))
				}
			}
			if _, err := t.exec(t.s.release); err != nil {
				return abort(group, fmt.Errorf("sqlite: release savepoint: %w", err))
			}
		}
	}
	if _, err := t.exec(t.s.commit); err != nil {
		return abort(group, fmt.Errorf("sqlite: commit: %w", err))
	}
	return true
}

// run calls o.fn, catching a panic. A write that may have made the message
// cache untrue empties it.
func (o *op) run(t *tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			o.panic = p
			err = fmt.Errorf("sqlite: panic in a write: %v", p)
		}
		if !o.keep || err != nil {
			t.mc.clear()
		}
	}()
	return o.fn(t)
}
