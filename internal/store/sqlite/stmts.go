package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
)

// writeStmts are the prepared statements of the write connection. They are
// driver statements, run without database/sql (see tx).
type writeStmts struct {
	begin, commit, rollback        driver.Stmt
	savepoint, release, rollbackTo driver.Stmt
	dataVersion                    driver.Stmt

	// Login
	userGet      driver.Stmt
	userAddLogin driver.Stmt
	userSetLogin driver.Stmt
	activeOf     driver.Stmt
	kick         driver.Stmt
	sessionAdd   driver.Stmt
	dayUserAdd   driver.Stmt
	monthUserAdd driver.Stmt
	dayLogin     driver.Stmt

	// AppendMessages
	mboxGet       driver.Stmt
	mboxLoad      driver.Stmt
	convSeqLoad   driver.Stmt
	userAdd       driver.Stmt
	convSeqGet    driver.Stmt
	msgAdd        driver.Stmt
	msgByClientID driver.Stmt
	convPut       driver.Stmt
	daySenderAdd  driver.Stmt
	userSendDay   driver.Stmt
	dayMsgs       driver.Stmt
}

// sessionCols are the columns sqlrows.Session reads.
const sessionCols = `seq, id, app, user_id, platform, instance_id, login_at, ticket_time, ticket_expire,
	state, ended_at, kick_reason, kick_platform, kick_at`

// entryCols are the columns sqlrows.Entry reads from messages.
const entryCols = `a, b, conv_seq, from_user, from_seq, to_seq, msg_key, client_msg_id, random, time, body`

// newestSeq is the newest seq of the mailbox (app ?1, owner ?2), NULL when
// it is empty.
const newestSeq = `(SELECT seq FROM mbox WHERE app = ?1 AND owner = ?2 ORDER BY seq DESC LIMIT 1)`

// sideUpsert is the ON CONFLICT update of side x of a convs row: a side
// that is off starts afresh.
func sideUpsert(x string) string {
	return strings.NewReplacer("x_", x+"_").Replace(`
		x_read = iif(x_on, x_read, 0),
		x_unread = iif(x_on, x_unread, 0) + excluded.x_unread,
		x_since = iif(x_on, x_since, excluded.x_since),
		x_on = 1`)
}

func (s *writeStmts) list() []wstmtDef {
	return []wstmtDef{
		{&s.begin, `BEGIN IMMEDIATE`},
		{&s.commit, `COMMIT`},
		{&s.rollback, `ROLLBACK`},
		{&s.savepoint, `SAVEPOINT w`},
		{&s.release, `RELEASE w`},
		{&s.rollbackTo, `ROLLBACK TO w`},
		{&s.dataVersion, `PRAGMA data_version`},

		// One row, also for a missing user (found 0), with the user's last
		// session seq.
		// A missing user's revoked_before is a deleted account's.
		{&s.userGet, `SELECT u.user_id IS NOT NULL, u.nick, u.face_url, u.imported, u.created_at,
			coalesce(u.revoked_before, (SELECT before FROM revocations WHERE app = ?1 AND user_id = ?2), 0),
			u.login_day, u.login_month,
			coalesce((SELECT seq FROM sessions WHERE app = ?1 AND user_id = ?2 ORDER BY seq DESC LIMIT 1), 0),
			coalesce(` + newestSeq + `, 0)
			FROM (SELECT 1) LEFT JOIN users u ON u.app = ?1 AND u.user_id = ?2`},
		{&s.userAddLogin, `INSERT INTO users (app, user_id, created_at, login_day, login_month)
			VALUES (?1, ?2, ?3, ?4, ?5)`},
		{&s.userSetLogin, `UPDATE users SET login_day = ?3, login_month = ?4 WHERE app = ?1 AND user_id = ?2`},
		{&s.activeOf, `SELECT ` + sessionCols + ` FROM sessions
			WHERE app = ?1 AND user_id = ?2 AND state = 1 ORDER BY login_at, seq`},
		{&s.kick, `UPDATE sessions SET state = 3, ended_at = ?2, kick_reason = ?3, kick_platform = ?4, kick_at = ?2
			WHERE id = ?1 AND state = 1`},
		{&s.sessionAdd, `INSERT INTO sessions (id, app, user_id, platform, instance_id, login_at,
			ticket_time, ticket_expire, seq, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)`},
		{&s.dayUserAdd, `INSERT INTO day_users (app, day, user_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING`},
		{&s.monthUserAdd, `INSERT INTO month_users (app, month, user_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING`},
		{&s.dayLogin, `INSERT INTO day_stats (app, day, logins, active_users, new_users) VALUES (?1, ?2, 1, ?3, ?4)
			ON CONFLICT (app, day) DO UPDATE SET logins = logins + 1,
			active_users = active_users + excluded.active_users, new_users = new_users + excluded.new_users`},

		{&s.mboxGet, `SELECT send_day, coalesce(` + newestSeq + `, 0) FROM users WHERE app = ?1 AND user_id = ?2`},
		// The users of the JSON array ?2: found, send_day, newest seq.
		{&s.mboxLoad, `SELECT j.value, u.user_id IS NOT NULL, coalesce(u.send_day, ''),
			coalesce((SELECT seq FROM mbox WHERE app = ?1 AND owner = j.value ORDER BY seq DESC LIMIT 1), 0)
			FROM json_each(?2) j LEFT JOIN users u ON u.app = ?1 AND u.user_id = j.value`},
		// The conversations of the JSON array ?2 of [a, b]: newest seq.
		{&s.convSeqLoad, `SELECT j.value ->> 0, j.value ->> 1,
			coalesce((SELECT conv_seq FROM messages WHERE app = ?1 AND a = j.value ->> 0 AND b = j.value ->> 1
				ORDER BY conv_seq DESC LIMIT 1), 0)
			FROM json_each(?2) j`},
		{&s.userAdd, `INSERT INTO users (app, user_id, created_at) VALUES (?1, ?2, ?3)`},
		{&s.convSeqGet, `SELECT coalesce((SELECT conv_seq FROM messages WHERE app = ?1 AND a = ?2 AND b = ?3
			ORDER BY conv_seq DESC LIMIT 1), 0)`},
		{&s.msgAdd, `INSERT INTO messages (app, a, b, conv_seq, from_user, from_seq, to_seq,
			msg_key, client_msg_id, random, time, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
			ON CONFLICT DO NOTHING`},
		{&s.msgByClientID, `SELECT ` + entryCols + ` FROM messages
			WHERE app = ?1 AND from_user = ?2 AND client_msg_id = ?3 AND client_msg_id <> ''`},
		// Both sides: ?6 and ?7 are a's and b's new unread, ?8 the first
		// conv_seq of the batch.
		{&s.convPut, `INSERT INTO convs (app, a, b, conv_seq, time,
			a_on, a_read, a_unread, a_since, b_on, b_read, b_unread, b_since)
			VALUES (?1, ?2, ?3, ?4, ?5, 1, 0, ?6, ?8, 1, 0, ?7, ?8)
			ON CONFLICT (app, a, b) DO UPDATE SET conv_seq = excluded.conv_seq, time = excluded.time,` +
			sideUpsert("a") + `,` + sideUpsert("b")},
		{&s.daySenderAdd, `INSERT INTO day_senders (app, day, user_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING`},
		{&s.userSendDay, `UPDATE users SET send_day = ?3 WHERE app = ?1 AND user_id = ?2`},
		{&s.dayMsgs, `INSERT INTO day_stats (app, day, messages, senders, new_users) VALUES (?1, ?2, ?3, ?4, ?5)
			ON CONFLICT (app, day) DO UPDATE SET messages = messages + excluded.messages,
			senders = senders + excluded.senders, new_users = new_users + excluded.new_users`},
	}
}

// convsList lists the conversations of ?2 (app ?1) after the cursor (?3,
// ?4), newest first, at most ?5: those it is a of and those it is b of.
const convsList = `SELECT c.peer, c.conv_seq, c.read, c.unread, c.time, ` + entryColsM + `
	FROM (SELECT b AS peer, conv_seq, a_read AS read, a_unread AS unread, time
			FROM convs WHERE app = ?1 AND a = ?2 AND a_on AND (time, b) < (?3, ?4)
		UNION ALL
		SELECT a AS peer, conv_seq, b_read AS read, b_unread AS unread, time
			FROM convs INDEXED BY convs_b WHERE app = ?1 AND b = ?2 AND a <> ?2 AND b_on AND (time, a) < (?3, ?4)
		ORDER BY time DESC, peer DESC LIMIT ?5) c
	JOIN messages m ON m.app = ?1 AND m.a = min(?2, c.peer) AND m.b = max(?2, c.peer) AND m.conv_seq = c.conv_seq
	ORDER BY c.time DESC, c.peer DESC`

// entryColsM is entryCols of messages m.
const entryColsM = `m.a, m.b, m.conv_seq, m.from_user, m.from_seq, m.to_seq, m.msg_key, m.client_msg_id,
	m.random, m.time, m.body`

// readStmts are the prepared statements of the read connections.
type readStmts struct {
	sync    *sql.Stmt
	maxSeq  *sql.Stmt
	history *sql.Stmt
	convs   *sql.Stmt
	unread  *sql.Stmt
	session *sql.Stmt
	active  *sql.Stmt
	kicked  *sql.Stmt
	user    *sql.Stmt
}

func (s *readStmts) list() []stmtDef {
	return []stmtDef{
		{&s.sync, `SELECT ` + entryColsM + `, ` + newestSeq + `
			FROM mbox x JOIN messages m ON m.id = x.msg_id
			WHERE x.app = ?1 AND x.owner = ?2 AND x.seq > ?3 ORDER BY x.seq LIMIT ?4`},
		{&s.maxSeq, `SELECT coalesce(` + newestSeq + `, 0)`},
		// ?2 and ?3 are owner and peer, ?4 and ?5 the pair in order.
		{&s.history, `SELECT ` + entryCols + ` FROM messages
			WHERE app = ?1 AND a = ?4 AND b = ?5 AND conv_seq < ?6
				AND conv_seq >= coalesce((SELECT iif(a = ?2, iif(a_on, a_since, NULL), iif(b_on, b_since, NULL))
					FROM convs WHERE app = ?1 AND a = ?4 AND b = ?5), ?6)
			ORDER BY conv_seq DESC LIMIT ?7`},
		{&s.convs, convsList},
		{&s.unread, `SELECT coalesce((SELECT sum(a_unread) FROM convs WHERE app = ?1 AND a = ?2 AND a_on), 0)
			+ coalesce((SELECT sum(b_unread) FROM convs INDEXED BY convs_b WHERE app = ?1 AND b = ?2 AND a <> ?2 AND b_on), 0)`},
		{&s.session, `SELECT ` + sessionCols + ` FROM sessions WHERE id = ?1`},
		{&s.active, `SELECT ` + sessionCols + ` FROM sessions
			WHERE app = ?1 AND user_id IN (SELECT value FROM json_each(?2)) AND state = 1
			ORDER BY login_at, user_id, seq`},
		{&s.kicked, `SELECT ` + sessionCols + ` FROM sessions
			WHERE state = 3 AND ended_at >= ?1 ORDER BY ended_at, seq LIMIT ?2`},
		{&s.user, `SELECT nick, face_url, imported, created_at, revoked_before
			FROM users WHERE app = ?1 AND user_id = ?2`},
	}
}

type stmtDef struct {
	s     **sql.Stmt
	query string
}

// preparer is a *sql.DB or a *sql.Conn.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func prepareAll(ctx context.Context, p preparer, defs []stmtDef) error {
	for _, d := range defs {
		s, err := p.PrepareContext(ctx, d.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", strings.Join(strings.Fields(d.query), " "), err)
		}
		*d.s = s
	}
	return nil
}

func closeAll(defs []stmtDef) {
	for _, d := range defs {
		if *d.s != nil {
			(*d.s).Close()
			*d.s = nil
		}
	}
}

// wstmtDef is a write statement to prepare.
type wstmtDef struct {
	s     *driver.Stmt
	query string
}

// prepare prepares the statements on the driver connection of c.
func (s *writeStmts) prepare(ctx context.Context, c *sql.Conn) error {
	return c.Raw(func(dc any) error {
		p, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot prepare with a context", dc)
		}
		for _, d := range s.list() {
			st, err := p.PrepareContext(ctx, d.query)
			if err != nil {
				return fmt.Errorf("prepare %q: %w", strings.Join(strings.Fields(d.query), " "), err)
			}
			*d.s = st
		}
		return nil
	})
}

// close closes the statements; c is the connection they were prepared on.
func (s *writeStmts) close(c *sql.Conn) {
	c.Raw(func(any) error {
		for _, d := range s.list() {
			if *d.s != nil {
				(*d.s).Close()
				*d.s = nil
			}
		}
		return nil
	})
}

func (s *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	return prepareAll(ctx, db, s.list())
}
func (s *readStmts) close() { closeAll(s.list()) }
