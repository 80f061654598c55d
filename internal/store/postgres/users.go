package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlrows"
)

// User implements store.Store.
func (db *DB) User(ctx context.Context, app uint64, userID string) (store.User, error) {
	u := store.User{App: app, UserID: userID}
	var created int64
	err := db.pool.QueryRow(ctx, `SELECT nick, face_url, imported, created_at, revoked_before
		FROM users WHERE app = $1 AND user_id = $2`, int64(app), userID).
		Scan(&u.Nick, &u.FaceURL, &u.Imported, &created, &u.RevokedBefore)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.User{}, fmt.Errorf("user %q of app %d: %w", userID, app, store.ErrNotFound)
	}
	if err != nil {
		return store.User{}, err
	}
	u.CreatedAt = sqlrows.FromMillis(created)
	return u, nil
}

// ImportUser implements store.Store.
func (db *DB) ImportUser(ctx context.Context, u store.User, day string) (created bool, err error) {
	err = db.update(ctx, func(t *tx) error {
		var updated, inserted bool
		// Update, or else insert and count a new user. Both find nothing
		// when another transaction created the user after this statement
		// began: then run again.
		t.queue(`WITH upd AS (
				UPDATE users SET nick = $3, face_url = $4 WHERE app = $1 AND user_id = $2 RETURNING 1
			), ins AS (
				INSERT INTO users (app, user_id, nick, face_url, imported, created_at)
				SELECT $1, $2, $3, $4, true, $5 WHERE NOT EXISTS (SELECT 1 FROM upd)
				ON CONFLICT DO NOTHING RETURNING 1
			), st AS (
				INSERT INTO day_stats AS d (app, day, shard, new_users) SELECT $1, $6, $7, 1 FROM ins
				ON CONFLICT (app, day, shard) DO UPDATE SET new_users = d.new_users + 1
			)
			SELECT EXISTS (SELECT 1 FROM upd), EXISTS (SELECT 1 FROM ins)`,
			int64(u.App), u.UserID, u.Nick, u.FaceURL, sqlrows.Millis(u.CreatedAt), day, t.shard).
			QueryRow(func(row pgx.Row) error { return row.Scan(&updated, &inserted) })
		if err := t.send(ctx); err != nil {
			return err
		}
		if !updated && !inserted {
			return errRetry
		}
		created = inserted
		return nil
	})
	return created && err == nil, err
}

// DeleteUser implements store.Store.
func (db *DB) DeleteUser(ctx context.Context, app uint64, userID string, at time.Time) error {
	return db.update(ctx, func(t *tx) error {
		var found bool
		// The revocation outlives the account (see schema 0003).
		t.queue(`INSERT INTO revocations (app, user_id, before)
			SELECT app, user_id, greatest(revoked_before, $3) FROM users WHERE app = $1 AND user_id = $2
			ON CONFLICT (app, user_id) DO UPDATE SET before = greatest(revocations.before, excluded.before)`,
			int64(app), userID, at.Unix())
		t.queue(`DELETE FROM users WHERE app = $1 AND user_id = $2`, int64(app), userID).
			Exec(func(ct pgconn.CommandTag) error {
				found = ct.RowsAffected() > 0
				return nil
			})
		if err := t.send(ctx); err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("user %q of app %d: %w", userID, app, store.ErrNotFound)
		}
		var kicked []store.Session
		t.queueKickAll(app, userID, store.Kick{Reason: imkit.KickAdmin, At: at}, &kicked)
		t.queue(`UPDATE convs SET a_on = false WHERE app = $1 AND a = $2 AND a_on`, int64(app), userID)
		t.queue(`UPDATE convs SET b_on = false WHERE app = $1 AND b = $2 AND b_on`, int64(app), userID)
		t.queue(`DELETE FROM mbox WHERE app = $1 AND owner = $2`, int64(app), userID)
		return nil
	})
}
