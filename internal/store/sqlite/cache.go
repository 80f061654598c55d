package sqlite

// The message cache keeps, between transactions, what AppendMessages reads
// before it writes: each mailbox's newest seq, its account's existence and
// send-day hint, and each conversation's newest seq. With it a batch of
// messages runs only its inserts and updates, not a lookup per mailbox and
// conversation first.
//
// The cache belongs to the write connection (guarded by DB.wmu) and is
// written through: AppendMessages changes it as it changes the database.
// It is emptied whenever it may be untrue:
//
//   - after a write that may change what it holds (update, as opposed to
//     updateKeep), and after any write that failed or panicked, since its
//     changes were rolled back;
//   - when a transaction rolls back or fails to commit;
//   - when another connection or process committed since this connection's
//     last transaction (PRAGMA data_version), such as the imkit command run
//     beside the server;
//   - when it holds more than maxCached entries.

// maxCached bounds the mailboxes plus conversations the cache holds.
const maxCached = 1 << 20

// msgCache is the message cache.
type msgCache struct {
	boxes       map[boxKey]*mailbox
	convs       map[convKey]int64 // the newest conv_seq
	dataVersion int64             // PRAGMA data_version when last checked
}

type boxKey struct {
	app  int64
	user string
}

type convKey struct {
	app int64
	p   pair
}

func (c *msgCache) clear() {
	if len(c.boxes) > 0 {
		clear(c.boxes)
	}
	if len(c.convs) > 0 {
		clear(c.convs)
	}
}

// cache returns the message cache, once checked in this transaction
// against the commits of other connections.
func (t *tx) cache() (*msgCache, error) {
	c := t.mc
	if t.mcChecked {
		return c, nil
	}
	var v int64
	if _, err := t.row(t.s.dataVersion, []any{&v}); err != nil {
		return nil, err
	}
	if v != c.dataVersion || len(c.boxes)+len(c.convs) > maxCached {
		c.clear()
		c.dataVersion = v
	}
	if c.boxes == nil {
		c.boxes = make(map[boxKey]*mailbox)
		c.convs = make(map[convKey]int64)
	}
	t.mcChecked = true
	return c, nil
}

// forgetUser drops what the cache holds of a user's mailbox, for a write
// under updateKeep that changed it.
func (t *tx) forgetUser(app uint64, user string) {
	delete(t.mc.boxes, boxKey{int64(app), user})
}
