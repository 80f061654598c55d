package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/internal/store/sqlrows"
)

// Login implements store.Store in one write transaction: for a returning
// user on a day it was already counted, four statements.
func (db *DB) Login(ctx context.Context, p store.LoginParams) (store.LoginResult, error) {
	s := p.Session
	s.State, s.EndedAt, s.Kick = store.SessionActive, time.Time{}, store.Kick{}
	var res store.LoginResult
	err := db.updateKeep(ctx, func(t *tx) error {
		u, hints, lastSession, found, err := t.user(s.App, s.UserID)
		if err != nil {
			return err
		}
		if !found {
			// RevokedBefore: a deleted account's, which the new one takes.
			u = store.User{App: s.App, UserID: s.UserID, CreatedAt: sqlrows.TruncMillis(s.LoginAt), RevokedBefore: u.RevokedBefore}
		}
		active, _, err := t.sessions(t.s.activeOf, "", int64(s.App), s.UserID)
		if err != nil {
			return err
		}
		kicks, err := p.Decide(u, slices.Clone(active))
		if err != nil {
			return err
		}

		// Decided: write.
		newUser := int64(0)
		if !found {
			newUser = 1
			t.forgetUser(s.App, s.UserID) // it has an account now
			if _, err := t.exec(t.s.userAddLogin, int64(s.App), s.UserID, sqlrows.Millis(s.LoginAt), p.Day, p.Month); err != nil {
				return err
			}
		} else if hints.loginDay != p.Day || hints.loginMonth != p.Month {
			if _, err := t.exec(t.s.userSetLogin, int64(s.App), s.UserID, p.Day, p.Month); err != nil {
				return err
			}
		}
		var kicked []store.Session
		for _, k := range kicks {
			i := slices.IndexFunc(active, func(a store.Session) bool { return a.ID == k.SessionID })
			if i < 0 {
				continue // not active, or named twice
			}
			if _, err := t.exec(t.s.kick, k.SessionID, sqlrows.Millis(k.Kick.At), int64(k.Kick.Reason), int64(k.Kick.Platform)); err != nil {
				return err
			}
			ks := active[i]
			ks.State, ks.EndedAt = store.SessionKicked, sqlrows.TruncMillis(k.Kick.At)
			ks.Kick = store.Kick{Reason: k.Kick.Reason, Platform: k.Kick.Platform, At: ks.EndedAt}
			kicked = append(kicked, ks)
			active = slices.Delete(active, i, i+1)
		}
		if _, err := t.exec(t.s.sessionAdd, s.ID, int64(s.App), s.UserID, int64(s.Platform), s.InstanceID,
			sqlrows.Millis(s.LoginAt), s.TicketTime, s.TicketExpire, lastSession+1); err != nil {
			if isConstraint(err) {
				return fmt.Errorf("session %q: %w", s.ID, store.ErrExists)
			}
			return err
		}
		dau := int64(0)
		if !found || hints.loginDay != p.Day {
			if dau, err = t.exec(t.s.dayUserAdd, int64(s.App), p.Day, s.UserID); err != nil {
				return err
			}
		}
		if !found || hints.loginMonth != p.Month {
			if _, err := t.exec(t.s.monthUserAdd, int64(s.App), p.Month, s.UserID); err != nil {
				return err
			}
		}
		if _, err := t.exec(t.s.dayLogin, int64(s.App), p.Day, dau, newUser); err != nil {
			return err
		}
		res = store.LoginResult{User: u, Created: !found, Kicked: kicked, MaxSeq: uint64(hints.maxSeq)}
		return nil
	})
	if err != nil {
		return store.LoginResult{}, err
	}
	return res, nil
}

// Session implements store.Store.
func (db *DB) Session(ctx context.Context, id string) (store.Session, error) {
	ss, _, err := querySessions(db.rs.session.QueryContext(ctx, id))
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
	ids, err := json.Marshal(userIDs)
	if err != nil {
		return nil, err
	}
	ss, _, err := querySessions(db.rs.active.QueryContext(ctx, int64(app), string(ids)))
	return ss, err
}

// KickedSince implements store.Store.
func (db *DB) KickedSince(ctx context.Context, t time.Time, limit int) ([]store.Session, error) {
	if limit <= 0 {
		return nil, nil
	}
	ss, _, err := querySessions(db.rs.kicked.QueryContext(ctx, sqlrows.Millis(t), limit))
	return ss, err
}

// EndSession implements store.Store.
func (db *DB) EndSession(ctx context.Context, id string, state store.SessionState, at time.Time) (ended bool, err error) {
	if state != store.SessionLoggedOut && state != store.SessionExpired {
		return false, fmt.Errorf("sqlite: end session %q: state %v is not logged-out or expired", id, state)
	}
	err = db.updateKeep(ctx, func(t *tx) error {
		n, err := t.execSQL(`UPDATE sessions SET state = ?, ended_at = ? WHERE id = ? AND state = 1`,
			int64(state), sqlrows.Millis(at), id)
		ended = n > 0
		return err
	})
	return ended, err
}

// RenewSession implements store.Store.
func (db *DB) RenewSession(ctx context.Context, id string, ticketTime, ticketExpire int64) error {
	return db.updateKeep(ctx, func(t *tx) error {
		n, err := t.execSQL(`UPDATE sessions SET ticket_time = ?, ticket_expire = ? WHERE id = ? AND state = 1`,
			ticketTime, ticketExpire, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("active session %q: %w", id, store.ErrNotFound)
		}
		return nil
	})
}

// KickUser implements store.Store.
func (db *DB) KickUser(ctx context.Context, app uint64, userID string, k store.Kick, revokeBefore int64) ([]store.Session, error) {
	var kicked []store.Session
	err := db.update(ctx, func(t *tx) error {
		n, err := t.execSQL(`UPDATE users SET revoked_before = max(revoked_before, ?) WHERE app = ? AND user_id = ?`,
			revokeBefore, int64(app), userID)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("user %q of app %d: %w", userID, app, store.ErrNotFound)
		}
		kicked, err = t.kickAll(app, userID, k)
		return err
	})
	if err != nil {
		return nil, err
	}
	return kicked, nil
}

// kickAll ends the active sessions of a user as kicked with k, and returns
// them oldest first.
func (t *tx) kickAll(app uint64, userID string, k store.Kick) ([]store.Session, error) {
	ss, seqs, err := t.sessions(nil, `UPDATE sessions
		SET state = 3, ended_at = ?1, kick_reason = ?2, kick_platform = ?3, kick_at = ?1
		WHERE app = ?4 AND user_id = ?5 AND state = 1 RETURNING `+sessionCols,
		sqlrows.Millis(k.At), int64(k.Reason), int64(k.Platform), int64(app), userID)
	if err != nil {
		return nil, err
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
		return cmp.Compare(seqs[i], seqs[j])
	})
	sorted := make([]store.Session, len(ss))
	for i, j := range idx {
		sorted[i] = ss[j]
	}
	return sorted, nil
}

// PurgeSessions implements store.Store.
func (db *DB) PurgeSessions(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := db.updateKeep(ctx, func(t *tx) (err error) {
		n, err = t.execSQL(`DELETE FROM sessions WHERE state <> 1 AND ended_at < ?`, sqlrows.Millis(before))
		return err
	})
	return int(n), err
}

// querySessions reads the sessionCols rows of a query, and their seqs.
func querySessions(rows *sql.Rows, err error) ([]store.Session, []int64, error) {
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		ss   []store.Session
		seqs []int64
		f    sqlrows.Session
	)
	dests := f.Dests()
	for rows.Next() {
		if err := rows.Scan(dests...); err != nil {
			return nil, nil, err
		}
		ss = append(ss, f.Session())
		seqs = append(seqs, f.N)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return ss, seqs, nil
}

// sessions runs a query of sessionCols in the transaction (a prepared
// statement, or SQL) and returns the sessions and their seqs.
func (t *tx) sessions(s driver.Stmt, query string, args ...any) ([]store.Session, []int64, error) {
	var (
		ss   []store.Session
		seqs []int64
		f    sqlrows.Session
	)
	each := func() error {
		ss = append(ss, f.Session())
		seqs = append(seqs, f.N)
		return nil
	}
	var err error
	if s != nil {
		err = t.rows(s, f.Dests(), each, args...)
	} else {
		err = t.rowsSQL(query, f.Dests(), each, args...)
	}
	return ss, seqs, err
}
