package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlrows"
)

// sessionCols are the columns sqlrows.Session reads.
const sessionCols = `n, id, app, user_id, platform, instance_id, login_at, ticket_time, ticket_expire,
	state, ended_at, kick_reason, kick_platform, kick_at`

// Login implements store.Store. For a returning user it takes two round
// trips: the first locks the users row and reads the active sessions; the
// second, after Decide, ends the sessions Decide named, adds the new one,
// counts the login and commits.
func (db *DB) Login(ctx context.Context, p store.LoginParams) (store.LoginResult, error) {
	s := p.Session
	s.State, s.EndedAt, s.Kick = store.SessionActive, time.Time{}, store.Kick{}
	var res store.LoginResult
	err := db.update(ctx, func(t *tx) error {
		res = store.LoginResult{}
		u, active, created, err := t.lockUser(ctx, s.App, s.UserID, sqlrows.Millis(s.LoginAt))
		if err != nil {
			return err
		}
		kicks, err := p.Decide(u, slices.Clone(active))
		if err != nil {
			return err
		}

		// Decided: write. The sessions Decide named that are active, each
		// once, in Decide's order.
		var (
			named                 []store.Session
			ids                   []string
			ats, reasons, kickers []int64
		)
		for _, k := range kicks {
			i := slices.IndexFunc(active, func(a store.Session) bool { return a.ID == k.SessionID })
			if i < 0 {
				continue // not active, or named twice
			}
			ks := active[i]
			ks.State, ks.EndedAt = store.SessionKicked, sqlrows.TruncMillis(k.Kick.At)
			ks.Kick = store.Kick{Reason: k.Kick.Reason, Platform: k.Kick.Platform, At: ks.EndedAt}
			named = append(named, ks)
			active = slices.Delete(active, i, i+1)
			ids = append(ids, ks.ID)
			ats = append(ats, sqlrows.Millis(k.Kick.At))
			reasons = append(reasons, int64(k.Kick.Reason))
			kickers = append(kickers, int64(k.Kick.Platform))
		}
		if len(ids) > 0 {
			// Still active: an EndSession may have ended one meanwhile
			// (it takes no users row lock).
			t.queue(`UPDATE sessions s SET state = 3, ended_at = k.at, kick_reason = k.reason,
					kick_platform = k.platform, kick_at = k.at
				FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[]) AS k(id, at, reason, platform)
				WHERE s.id = k.id AND s.state = 1 RETURNING s.id`, ids, ats, reasons, kickers).
				Query(func(rows pgx.Rows) error {
					ended := make(map[string]bool, len(ids))
					for rows.Next() {
						var id string
						if err := rows.Scan(&id); err != nil {
							return err
						}
						ended[id] = true
					}
					for _, ks := range named {
						if ended[ks.ID] {
							res.Kicked = append(res.Kicked, ks)
						}
					}
					return rows.Err()
				})
		}
		t.queue(`INSERT INTO sessions (id, app, user_id, platform, instance_id, login_at, ticket_time, ticket_expire, state)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)`,
			s.ID, int64(s.App), s.UserID, int64(s.Platform), s.InstanceID, sqlrows.Millis(s.LoginAt), s.TicketTime, s.TicketExpire)
		newUser := int64(0)
		if created {
			newUser = 1
		}
		// The day's and the month's active users, counted once each; the
		// day_stats row last, just before the commit (see day_stats).
		t.queue(`WITH du AS (
				INSERT INTO day_users (app, day, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1
			), mu AS (
				INSERT INTO month_users (app, month, user_id) VALUES ($1, $4, $3) ON CONFLICT DO NOTHING
			)
			INSERT INTO day_stats AS d (app, day, shard, logins, active_users, new_users)
			VALUES ($1, $2, $5, 1, (SELECT count(*) FROM du), $6)
			ON CONFLICT (app, day, shard) DO UPDATE SET logins = d.logins + 1,
				active_users = d.active_users + excluded.active_users, new_users = d.new_users + excluded.new_users`,
			int64(s.App), p.Day, s.UserID, p.Month, t.shard, newUser)
		t.queue(maxSeqSQL, int64(s.App), s.UserID).
			QueryRow(func(row pgx.Row) error {
				var n int64
				err := row.Scan(&n)
				res.MaxSeq = uint64(n)
				return err
			})
		res.User, res.Created = u, created
		return nil
	})
	if isUnique(err, "sessions_pkey") {
		return store.LoginResult{}, fmt.Errorf("session %q: %w", s.ID, store.ErrExists)
	}
	if err != nil {
		return store.LoginResult{}, err
	}
	return res, nil
}

// lockUser locks the users row of a login's user, creating the account
// (with created_at createdMS) when missing, and reads its active sessions,
// oldest first. created reports whether it made the account.
func (t *tx) lockUser(ctx context.Context, app uint64, userID string, createdMS int64) (u store.User, active []store.Session, created bool, err error) {
	// In READ COMMITTED, each statement sees what committed before it
	// started: the sessions read after the lock include all that the lock's
	// previous holder wrote.
	for range maxAttempts {
		var found bool
		t.queue(`SELECT nick, face_url, imported, created_at, revoked_before FROM users
			WHERE app = $1 AND user_id = $2 FOR UPDATE`, int64(app), userID).
			QueryRow(func(row pgx.Row) error {
				var created int64
				err := row.Scan(&u.Nick, &u.FaceURL, &u.Imported, &created, &u.RevokedBefore)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				}
				found = err == nil
				u.App, u.UserID, u.CreatedAt = app, userID, sqlrows.FromMillis(created)
				return err
			})
		t.queueActive(app, userID, &active)
		if err := t.send(ctx); err != nil {
			return store.User{}, nil, false, err
		}
		if found {
			return u, active, false, nil
		}

		// Missing: create it. The new row is this transaction's until it
		// commits: a concurrent login of the user waits for it, then finds
		// it.
		// RETURNING: the trigger of schema 0003 gives a deleted account's
		// revocation to the new one.
		var revoked int64
		t.queue(`INSERT INTO users (app, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
			RETURNING revoked_before`, int64(app), userID, createdMS).
			QueryRow(func(row pgx.Row) error {
				err := row.Scan(&revoked)
				if errors.Is(err, pgx.ErrNoRows) {
					return nil
				}
				created = err == nil
				return err
			})
		active = nil
		t.queueActive(app, userID, &active)
		if err := t.send(ctx); err != nil {
			return store.User{}, nil, false, err
		}
		if created {
			return store.User{App: app, UserID: userID, CreatedAt: sqlrows.FromMillis(createdMS), RevokedBefore: revoked}, active, true, nil
		}
		// Another transaction created it meanwhile: lock it.
	}
	return store.User{}, nil, false, errRetry
}

// queueActive queues the query of a user's active sessions, oldest first,
// which it stores in *out.
func (t *tx) queueActive(app uint64, userID string, out *[]store.Session) {
	t.queue(`SELECT `+sessionCols+` FROM sessions WHERE app = $1 AND user_id = $2 AND state = 1
		ORDER BY login_at, n`, int64(app), userID).
		Query(func(rows pgx.Rows) error {
			ss, _, err := scanSessions(rows)
			*out = ss
			return err
		})
}

// Session implements store.Store.
func (db *DB) Session(ctx context.Context, id string) (store.Session, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, id)
	if err != nil {
		return store.Session{}, err
	}
	ss, _, err := scanSessions(rows)
	if err != nil {
		return store.Session{}, err
	}
	if len(ss) == 0 {
		return store.Session{}, fmt.Errorf("session %q: %w", id, store.ErrNotFound)
	}
	return ss[0], nil
}

// ActiveSessions implements store.Store.
func (db *DB) ActiveSessions(ctx context.Context, app uint64, userIDs []string) ([]store.Session, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	// One index lookup per user (OFFSET 0 keeps the subquery a
	// subquery), whatever the planner knows of the table.
	rows, err := db.pool.Query(ctx, `SELECT `+sessionCols+` FROM unnest($2::text[]) AS u
		CROSS JOIN LATERAL (SELECT * FROM sessions WHERE app = $1 AND user_id = u AND state = 1 OFFSET 0) s
		ORDER BY login_at, user_id, n`,
		int64(app), userIDs)
	if err != nil {
		return nil, err
	}
	ss, _, err := scanSessions(rows)
	return ss, err
}

// KickedSince implements store.Store.
func (db *DB) KickedSince(ctx context.Context, t time.Time, limit int) ([]store.Session, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT `+sessionCols+` FROM sessions
		WHERE state = 3 AND ended_at >= $1 ORDER BY ended_at, n LIMIT $2`, sqlrows.Millis(t), limit)
	if err != nil {
		return nil, err
	}
	ss, _, err := scanSessions(rows)
	return ss, err
}

// EndSession implements store.Store.
func (db *DB) EndSession(ctx context.Context, id string, state store.SessionState, at time.Time) (ended bool, err error) {
	if state != store.SessionLoggedOut && state != store.SessionExpired {
		return false, fmt.Errorf("postgres: end session %q: state %v is not logged-out or expired", id, state)
	}
	ct, err := db.pool.Exec(ctx, `UPDATE sessions SET state = $1, ended_at = $2 WHERE id = $3 AND state = 1`,
		int64(state), sqlrows.Millis(at), id)
	if err != nil {
		return false, err
	}
	return ct.RowsAffected() > 0, nil
}

// RenewSession implements store.Store.
func (db *DB) RenewSession(ctx context.Context, id string, ticketTime, ticketExpire int64) error {
	ct, err := db.pool.Exec(ctx, `UPDATE sessions SET ticket_time = $1, ticket_expire = $2 WHERE id = $3 AND state = 1`,
		ticketTime, ticketExpire, id)
	if err != nil {
		return err
	}
	if ct.RowsAffected() == 0 {
		return fmt.Errorf("active session %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// KickUser implements store.Store, in one round trip.
func (db *DB) KickUser(ctx context.Context, app uint64, userID string, k store.Kick, revokeBefore int64) ([]store.Session, error) {
	var (
		found  bool
		kicked []store.Session
	)
	err := db.update(ctx, func(t *tx) error {
		found, kicked = false, nil
		// The users row first, as Login locks it; a missing user has no
		// active sessions, so the second statement then changes nothing.
		t.queue(`UPDATE users SET revoked_before = greatest(revoked_before, $3) WHERE app = $1 AND user_id = $2`,
			int64(app), userID, revokeBefore).
			Exec(func(ct pgconn.CommandTag) error {
				found = ct.RowsAffected() > 0
				return nil
			})
		t.queueKickAll(app, userID, k, &kicked)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("user %q of app %d: %w", userID, app, store.ErrNotFound)
	}
	return kicked, nil
}

// queueKickAll queues the statement that ends the active sessions of a user
// as kicked with k; it stores them in *out, oldest first.
func (t *tx) queueKickAll(app uint64, userID string, k store.Kick, out *[]store.Session) {
	t.queue(`UPDATE sessions SET state = 3, ended_at = $3, kick_reason = $4, kick_platform = $5, kick_at = $3
		WHERE app = $1 AND user_id = $2 AND state = 1 RETURNING `+sessionCols,
		int64(app), userID, sqlrows.Millis(k.At), int64(k.Reason), int64(k.Platform)).
		Query(func(rows pgx.Rows) error {
			ss, ns, err := scanSessions(rows)
			if err != nil {
				return err
			}
			// RETURNING has no order.
			idx := make([]int, len(ss))
			for i := range idx {
				idx[i] = i
			}
			slices.SortFunc(idx, func(i, j int) int {
				if c := ss[i].LoginAt.Compare(ss[j].LoginAt); c != 0 {
					return c
				}
				return cmp.Compare(ns[i], ns[j])
			})
			sorted := make([]store.Session, len(ss))
			for i, j := range idx {
				sorted[i] = ss[j]
			}
			*out = sorted
			return nil
		})
}

// PurgeSessions implements store.Store.
func (db *DB) PurgeSessions(ctx context.Context, before time.Time) (int, error) {
	ct, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE state <> 1 AND ended_at < $1`, sqlrows.Millis(before))
	if err != nil {
		return 0, err
	}
	return int(ct.RowsAffected()), nil
}

// scanSessions reads the sessionCols rows of a query, and their login
// order numbers, and closes rows.
func scanSessions(rows pgx.Rows) ([]store.Session, []int64, error) {
	defer rows.Close()
	var (
		ss []store.Session
		ns []int64
		f  sqlrows.Session
	)
	dests := f.Dests()
	for rows.Next() {
		if err := rows.Scan(dests...); err != nil {
			return nil, nil, err
		}
		ss = append(ss, f.Session())
		ns = append(ns, f.N)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return ss, ns, nil
}
