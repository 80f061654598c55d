package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlite"
)

// TestCacheSeesOtherWriters stores messages of one conversation in turn
// through two handles of one database file, as the server and the imkit
// command beside it do: each handle's message cache must notice the other's
// commits, so the seqs go on without a gap or a conflict.
func TestCacheSeesOtherWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "imkit.db")
	open := func() *sqlite.DB {
		db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	dbs := []*sqlite.DB{open(), open()}
	for i := range 6 {
		m := &store.Message{ID: "m" + string(rune('a'+i)), ClientMsgID: "c" + string(rune('a'+i)),
			From: "alice", To: "bob", Time: time.Now().UnixMilli(), Body: []byte(`[]`)}
		if err := dbs[i%2].AppendMessages(t.Context(), app, []*store.Message{m}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got, want := m.ConvSeq, uint64(i+1); got != want {
			t.Errorf("message %d: conv seq %d, want %d", i, got, want)
		}
		if got, want := m.ToSeq, uint64(i+1); got != want {
			t.Errorf("message %d: bob's seq %d, want %d", i, got, want)
		}
	}
}

// TestCacheAfterDeleteUser deletes a receiver between two messages: the
// second creates the account again with an empty mailbox.
func TestCacheAfterDeleteUser(t *testing.T) {
	db := openTemp(t, sqlite.Options{})
	send := func(id string) *store.Message {
		m := &store.Message{ID: id, ClientMsgID: id, From: "alice", To: "bob", Time: time.Now().UnixMilli(), Body: []byte(`[]`)}
		if err := db.AppendMessages(t.Context(), app, []*store.Message{m}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	send("1")
	send("2")
	if err := db.DeleteUser(t.Context(), app, "bob", time.Now()); err != nil {
		t.Fatal(err)
	}
	m := send("3")
	if m.ToSeq != 1 || m.FromSeq != 3 {
		t.Errorf("after deleting bob: seqs from %d to %d, want 3 and 1", m.FromSeq, m.ToSeq)
	}
	if _, err := db.User(t.Context(), app, "bob"); err != nil {
		t.Errorf("bob's account after the message: %v", err)
	}
}
