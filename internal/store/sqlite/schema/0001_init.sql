-- imkit schema, version 1. Times are Unix milliseconds (0: the zero time),
-- days "2006-01-02", months "2006-01".

CREATE TABLE apps (
	sdk_app_id    INTEGER PRIMARY KEY,
	key           TEXT NOT NULL,
	admin         TEXT NOT NULL,
	policy        INTEGER NOT NULL,
	max_instances TEXT NOT NULL, -- "platform=n,platform=n"
	webhook_url   TEXT NOT NULL,
	created_at    INTEGER NOT NULL
);

CREATE TABLE users (
	app            INTEGER NOT NULL,
	user_id        TEXT NOT NULL,
	nick           TEXT NOT NULL DEFAULT '',
	face_url       TEXT NOT NULL DEFAULT '',
	imported       INTEGER NOT NULL DEFAULT 0,
	created_at     INTEGER NOT NULL,
	revoked_before INTEGER NOT NULL DEFAULT 0,
	-- Hints that save statements: the day and month this user was last
	-- counted in day_users and month_users, the day last counted in
	-- day_senders. Counting is exact without them.
	login_day      TEXT NOT NULL DEFAULT '',
	login_month    TEXT NOT NULL DEFAULT '',
	send_day       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (app, user_id)
) WITHOUT ROWID;

-- Sessions, clustered by user: a login reads and writes one page of it.
CREATE TABLE sessions (
	app           INTEGER NOT NULL,
	user_id       TEXT NOT NULL,
	seq           INTEGER NOT NULL, -- the user's sessions in login order
	id            TEXT NOT NULL,
	platform      INTEGER NOT NULL,
	instance_id   TEXT NOT NULL,
	login_at      INTEGER NOT NULL,
	ticket_time   INTEGER NOT NULL,
	ticket_expire INTEGER NOT NULL,
	state         INTEGER NOT NULL,
	ended_at      INTEGER NOT NULL DEFAULT 0,
	kick_reason   INTEGER NOT NULL DEFAULT 0,
	kick_platform INTEGER NOT NULL DEFAULT 0,
	kick_at       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (app, user_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX sessions_id ON sessions (id);
CREATE INDEX sessions_ended ON sessions (ended_at) WHERE state <> 1;

CREATE TABLE day_stats (
	app          INTEGER NOT NULL,
	day          TEXT NOT NULL,
	active_users INTEGER NOT NULL DEFAULT 0,
	logins       INTEGER NOT NULL DEFAULT 0,
	new_users    INTEGER NOT NULL DEFAULT 0,
	peak_online  INTEGER NOT NULL DEFAULT 0,
	messages     INTEGER NOT NULL DEFAULT 0,
	senders      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (app, day)
) WITHOUT ROWID;

-- Who was counted: active users of a day and a month, senders of a day.
CREATE TABLE day_users (
	app     INTEGER NOT NULL,
	day     TEXT NOT NULL,
	user_id TEXT NOT NULL,
	PRIMARY KEY (app, day, user_id)
) WITHOUT ROWID;
CREATE TABLE month_users (
	app     INTEGER NOT NULL,
	month   TEXT NOT NULL,
	user_id TEXT NOT NULL,
	PRIMARY KEY (app, month, user_id)
) WITHOUT ROWID;
CREATE TABLE day_senders (
	app     INTEGER NOT NULL,
	day     TEXT NOT NULL,
	user_id TEXT NOT NULL,
	PRIMARY KEY (app, day, user_id)
) WITHOUT ROWID;

-- Messages: one row per message, in the order they are stored, so that a
-- batch appends to the table's last pages. (a, b) are its two users in
-- order, a <= b (a = b for a message to oneself), conv_seq its place in their
-- conversation, from_seq and to_seq its places in the sender's and the
-- receiver's mailbox.
CREATE TABLE messages (
	id            INTEGER PRIMARY KEY,
	app           INTEGER NOT NULL,
	a             TEXT NOT NULL,
	b             TEXT NOT NULL,
	conv_seq      INTEGER NOT NULL,
	from_user     TEXT NOT NULL, -- a or b; the receiver is the other one
	from_seq      INTEGER NOT NULL,
	to_seq        INTEGER NOT NULL,
	msg_key       TEXT NOT NULL,
	client_msg_id TEXT NOT NULL,
	random        INTEGER NOT NULL,
	time          INTEGER NOT NULL,
	body          BLOB NOT NULL
);
-- A conversation's history.
CREATE UNIQUE INDEX messages_conv ON messages (app, a, b, conv_seq);
-- Deduplication by (From, ClientMsgID).
CREATE UNIQUE INDEX messages_client_id ON messages (app, from_user, client_msg_id)
	WHERE client_msg_id <> '';

-- Mailboxes: what each user syncs, in order; the newest seq is the
-- mailbox's counter. A message is in its sender's and its receiver's (once
-- for a message to oneself).
CREATE TABLE mbox (
	app    INTEGER NOT NULL,
	owner  TEXT NOT NULL,
	seq    INTEGER NOT NULL,
	msg_id INTEGER NOT NULL, -- messages.id
	PRIMARY KEY (app, owner, seq)
) WITHOUT ROWID;

-- The statement that stores a message also files it in both mailboxes: one
-- statement a message, not two. A duplicate (ON CONFLICT DO NOTHING) is not
-- inserted, so not filed.
CREATE TRIGGER messages_to_mbox AFTER INSERT ON messages BEGIN
	INSERT INTO mbox (app, owner, seq, msg_id) VALUES (NEW.app, NEW.from_user, NEW.from_seq, NEW.id);
	INSERT INTO mbox (app, owner, seq, msg_id) SELECT NEW.app,
		CASE NEW.from_user WHEN NEW.a THEN NEW.b ELSE NEW.a END, NEW.to_seq, NEW.id
		WHERE NEW.a <> NEW.b;
END;

-- Conversations: one row per pair of users (a <= b, as in messages) with
-- each side's state, so that a batch of messages changes one row per
-- conversation. conv_seq and time are the newest message's. A side is on
-- while its user has the conversation (DeleteUser turns it off; the next
-- message turns it on afresh); since is the first message the side has
-- (later than 1 for an account deleted and made again), read its ReadSeq.
-- A conversation with oneself uses side a only.
CREATE TABLE convs (
	app      INTEGER NOT NULL,
	a        TEXT NOT NULL,
	b        TEXT NOT NULL,
	conv_seq INTEGER NOT NULL,
	time     INTEGER NOT NULL,
	a_on     INTEGER NOT NULL,
	a_read   INTEGER NOT NULL,
	a_unread INTEGER NOT NULL,
	a_since  INTEGER NOT NULL,
	b_on     INTEGER NOT NULL,
	b_read   INTEGER NOT NULL,
	b_unread INTEGER NOT NULL,
	b_since  INTEGER NOT NULL,
	PRIMARY KEY (app, a, b)
) WITHOUT ROWID;
-- A user's conversations are those it is a of (the primary key) and those
-- it is b of (queries name this index: without statistics the planner
-- prefers the primary key's app prefix). No index by time: listing sorts one
-- user's conversations.
CREATE INDEX convs_b ON convs (app, b);
