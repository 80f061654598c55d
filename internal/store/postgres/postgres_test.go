package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/postgres"
	"github.com/imkit/imkit/internal/store/storetest"
)

const app = 1400000001

// openTest opens a store in a new schema of the test database (see
// imkittest.PostgresDSN), closed when the test ends.
func openTest(t testing.TB, opts postgres.Options) *postgres.DB {
	t.Helper()
	return openDSN(t, imkittest.PostgresDSN(t), opts)
}

func openDSN(t testing.TB, dsn string, opts postgres.Options) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn, opts)
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
	storetest.Run(t, func(t *testing.T) store.Store {
		// Many connections: concurrent logins of a user meet on its row
		// lock, not on the pool.
		return openTest(t, postgres.Options{MaxConns: 32})
	})
}

// TestNodes runs logins and messages of the same users through several
// stores (nodes) on one database at once: the policy holds across them,
// every mailbox's seqs run 1, 2, 3... without a gap or a repeat, and the
// conversations count every message.
func TestNodes(t *testing.T) {
	dsn := imkittest.PostgresDSN(t)
	const nodes = 3
	var dbs []*postgres.DB
	for range nodes {
		dbs = append(dbs, openDSN(t, dsn, postgres.Options{MaxConns: 8}))
	}
	ctx := t.Context()
	if err := dbs[0].CreateApp(ctx, store.App{SDKAppID: app, Key: "k", Admin: "admin", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	// Logins: one user, at most 2 sessions.
	keep2 := func(u store.User, active []store.Session) ([]store.Kicked, error) {
		var ks []store.Kicked
		for i := 0; i < len(active)-1; i++ {
			ks = append(ks, store.Kicked{SessionID: active[i].ID, Kick: store.Kick{Reason: imkit.KickMultiInstance, At: time.Now()}})
		}
		return ks, nil
	}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := dbs[i%nodes].Login(ctx, store.LoginParams{
				Session: store.Session{ID: fmt.Sprint("s", i), App: app, UserID: "alice", Platform: imkit.PlatformWeb, LoginAt: time.Now()},
				Day:     "2025-03-14", Month: "2025-03", Decide: keep2,
			})
			if err != nil {
				t.Errorf("Login %d: %v", i, err)
			}
		}()
	}

	// Messages: batches among 6 users (created by the batches), from each
	// node at once.
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
	const batches, size = 20, 16
	for n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var msgs []*store.Message
				for i := range size {
					k := (n*batches+b)*size + i
					msgs = append(msgs, &store.Message{
						ID: fmt.Sprint("m", k), ClientMsgID: fmt.Sprint("c", k),
						From: users[k%len(users)], To: users[(k/len(users)+k+1)%len(users)],
						Time: time.Now().UnixMilli(),
					})
				}
				if err := dbs[n].AppendMessages(ctx, app, msgs); err != nil {
					t.Errorf("node %d: AppendMessages: %v", n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	if ss, err := dbs[1].ActiveSessions(ctx, app, []string{"alice"}); err != nil || len(ss) != 2 {
		t.Errorf("after 60 logins through %d nodes: %d active sessions (error %v), want 2", nodes, len(ss), err)
	}
	total := 0
	for _, u := range users {
		es, maxSeq, err := dbs[2].Sync(ctx, app, u, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range es {
			if e.Seq != uint64(i+1) {
				t.Fatalf("%s's mailbox: entry %d has seq %d, want %d", u, i, e.Seq, i+1)
			}
			if e.From == u {
				total++
			}
		}
		if maxSeq != uint64(len(es)) {
			t.Errorf("%s's mailbox: %d entries, max seq %d", u, len(es), maxSeq)
		}
		cs, err := dbs[0].Conversations(ctx, app, u, store.Cursor{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			h, err := dbs[0].History(ctx, app, u, c.Peer, 0, 10000)
			if err != nil {
				t.Fatal(err)
			}
			if uint64(len(h)) != c.ConvSeq {
				t.Errorf("conversation %s-%s: %d messages, conv seq %d", u, c.Peer, len(h), c.ConvSeq)
			}
		}
	}
	if want := nodes * batches * size; total != want {
		t.Errorf("%d messages in the senders' mailboxes, want %d", total, want)
	}
	st, err := dbs[0].DayStats(ctx, app, time.Now().UTC().Format("2006-01-02"), time.Now().UTC().Format("2006-01-02"))
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Messages != nodes*batches*size || st[0].NewUsers != len(users) {
		t.Errorf("DayStats = %+v, want %d messages, %d new users", st[0], nodes*batches*size, len(users))
	}
}

// TestMigrateConcurrently opens several stores on a new schema at once:
// the schema is made once, and opening it again changes nothing.
func TestMigrateConcurrently(t *testing.T) {
	dsn := imkittest.PostgresDSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(t.Context(), dsn, postgres.Options{})
			if err == nil {
				db.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	db := openDSN(t, dsn, postgres.Options{})
	v, err := db.SchemaVersion(t.Context())
	if err != nil || v != 3 {
		t.Errorf("SchemaVersion = %d, %v; want 3", v, err)
	}
}

// TestBadDSN: the error does not show the DSN, which may hold a password.
func TestBadDSN(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://imkit:s3cret@127.0.0.1:notaport/db", postgres.Options{})
	if err == nil {
		t.Fatal("Open with a bad DSN: no error")
	}
	if s := err.Error(); contains(s, "s3cret") {
		t.Errorf("Open error %q shows the password", s)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestMigrateFromVersion1 upgrades a schema of version 1 holding a message:
// the dedup index is rebuilt with the ID first (concurrently, outside a
// transaction), revocations come in, and a retry of the old message is
// still a duplicate.
func TestMigrateFromVersion1(t *testing.T) {
	dsn := imkittest.PostgresDSN(t)
	ctx := t.Context()
	db, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateApp(ctx, store.App{SDKAppID: app, Key: "k", Admin: "admin", Policy: imkit.DefaultPolicy, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	msg := func(id string) *store.Message {
		return &store.Message{ID: id, ClientMsgID: "0190aa00bb00-c1", From: "u1", To: "u2", Time: 1, Body: []byte(`[]`)}
	}
	if err := db.AppendMessages(ctx, app, []*store.Message{msg("k1")}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{ // back to version 1
		`DROP TRIGGER users_made_again ON users`,
		`DROP FUNCTION users_made_again()`,
		`DROP TABLE revocations`,
		`DROP INDEX messages_client_id`,
		`CREATE UNIQUE INDEX messages_client_id ON messages (app, from_user, client_msg_id) WHERE client_msg_id <> ''`,
		`DELETE FROM schema_version WHERE version > 1`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	db = openDSN(t, dsn, postgres.Options{})
	if v, err := db.SchemaVersion(ctx); err != nil || v != 3 {
		t.Fatalf("SchemaVersion = %d, %v; want 3", v, err)
	}
	again := msg("k2")
	if err := db.AppendMessages(ctx, app, []*store.Message{again}); err != nil {
		t.Fatal(err)
	}
	if !again.Dup || again.ID != "k1" {
		t.Fatalf("the retry after the upgrade = %+v, want the first message, as a duplicate", again)
	}
	var def string
	if err := conn.QueryRow(ctx, `SELECT pg_get_indexdef('messages_client_id'::regclass)`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(def, "(app, client_msg_id, from_user)") {
		t.Fatalf("the dedup index is %s, want (app, client_msg_id, from_user)", def)
	}
}
