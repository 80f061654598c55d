package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlrows"
)

// User implements store.Store.
func (db *DB) User(ctx context.Context, app uint64, userID string) (store.User, error) {
	var (
		u             store.User
		imported      bool
		created       int64
		revokedBefore int64
	)
	err := db.rs.user.QueryRowContext(ctx, int64(app), userID).Scan(&u.Nick, &u.FaceURL, &imported, &created, &revokedBefore)
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, fmt.Errorf("user %q of app %d: %w", userID, app, store.ErrNotFound)
	}
	if err != nil {
		return store.User{}, err
	}
	u.App, u.UserID, u.Imported, u.CreatedAt, u.RevokedBefore = app, userID, imported, sqlrows.FromMillis(created), revokedBefore
	return u, nil
}

// ImportUser implements store.Store.
func (db *DB) ImportUser(ctx context.Context, u store.User, day string) (created bool, err error) {
	err = db.update(ctx, func(t *tx) error {
		n, err := t.execSQL(`UPDATE users SET nick = ?, face_url = ? WHERE app = ? AND user_id = ?`,
			u.Nick, u.FaceURL, int64(u.App), u.UserID)
		if err != nil || n > 0 {
			return err
		}
		created = true
		if _, err := t.execSQL(`INSERT INTO users (app, user_id, nick, face_url, imported, created_at)
			VALUES (?, ?, ?, ?, 1, ?)`, int64(u.App), u.UserID, u.Nick, u.FaceURL, sqlrows.Millis(u.CreatedAt)); err != nil {
			return err
		}
		_, err = t.execSQL(`INSERT INTO day_stats (app, day, new_users) VALUES (?, ?, 1)
			ON CONFLICT (app, day) DO UPDATE SET new_users = new_users + 1`, int64(u.App), day)
		return err
	})
	return created && err == nil, err
}

// DeleteUser implements store.Store.
func (db *DB) DeleteUser(ctx context.Context, app uint64, userID string, at time.Time) error {
	return db.update(ctx, func(t *tx) error {
		// The revocation outlives the account (see schema 0003).
		if _, err := t.execSQL(`INSERT INTO revocations (app, user_id, before)
			SELECT app, user_id, max(revoked_before, ?3) FROM users WHERE app = ?1 AND user_id = ?2
			ON CONFLICT (app, user_id) DO UPDATE SET before = max(before, excluded.before)`,
			int64(app), userID, at.Unix()); err != nil {
			return err
		}
		n, err := t.execSQL(`DELETE FROM users WHERE app = ? AND user_id = ?`, int64(app), userID)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("user %q of app %d: %w", userID, app, store.ErrNotFound)
		}
		if _, err := t.kickAll(app, userID, store.Kick{Reason: imkit.KickAdmin, At: at}); err != nil {
			return err
		}
		if _, err := t.execSQL(`UPDATE convs SET a_on = 0 WHERE app = ?1 AND a = ?2`, int64(app), userID); err != nil {
			return err
		}
		if _, err := t.execSQL(`UPDATE convs INDEXED BY convs_b SET b_on = 0 WHERE app = ?1 AND b = ?2`, int64(app), userID); err != nil {
			return err
		}
		_, err = t.execSQL(`DELETE FROM mbox WHERE app = ? AND owner = ?`, int64(app), userID)
		return err
	})
}

// userHints are the counting hints of a users row.
type userHints struct {
	loginDay, loginMonth string
	maxSeq               int64 // the newest seq of the user's mailbox
}

// user reads a user in the transaction, the seq of its newest session and
// (in h) of the newest message of its mailbox;
// found is false when it is unknown.
func (t *tx) user(app uint64, userID string) (u store.User, h userHints, lastSession int64, found bool, err error) {
	var imported bool
	var created int64
	_, err = t.row(t.s.userGet,
		[]any{&found, &u.Nick, &u.FaceURL, &imported, &created, &u.RevokedBefore, &h.loginDay, &h.loginMonth, &lastSession, &h.maxSeq},
		int64(app), userID)
	if err != nil || !found {
		// A missing user's RevokedBefore is a deleted account's.
		return store.User{RevokedBefore: u.RevokedBefore}, userHints{maxSeq: h.maxSeq}, lastSession, false, err
	}
	u.App, u.UserID, u.Imported, u.CreatedAt = app, userID, imported, sqlrows.FromMillis(created)
	return u, h, lastSession, true, nil
}
