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

-- Mailboxes: one row per message per owner (the sender's and the
-- receiver's; one row for a message to oneself). seq is the message's place
-- in owner's mailbox, peer_seq its place in peer's; the newest seq is the
-- mailbox's counter.
CREATE TABLE msgs (
	app           INTEGER NOT NULL,
	owner         TEXT NOT NULL,
	seq           INTEGER NOT NULL,
	peer          TEXT NOT NULL,
	peer_seq      INTEGER NOT NULL,
	conv_seq      INTEGER NOT NULL,
	outgoing      INTEGER NOT NULL, -- 1: owner sent it
	msg_key       TEXT NOT NULL,
	client_msg_id TEXT NOT NULL,
	random        INTEGER NOT NULL,
	time          INTEGER NOT NULL,
	body          BLOB NOT NULL,
	PRIMARY KEY (app, owner, seq)
) WITHOUT ROWID;
CREATE INDEX msgs_conv ON msgs (app, owner, peer, conv_seq);
-- Deduplication by (From, ClientMsgID), on the sender's rows.
CREATE UNIQUE INDEX msgs_client_id ON msgs (app, owner, client_msg_id)
	WHERE outgoing = 1 AND client_msg_id <> '';

-- Conversations: one row per owner and peer. conv_seq is the newest
-- message's conversation seq (both rows of a pair agree), last_seq its seq in
-- owner's mailbox.
CREATE TABLE convs (
	app      INTEGER NOT NULL,
	owner    TEXT NOT NULL,
	peer     TEXT NOT NULL,
	conv_seq INTEGER NOT NULL,
	last_seq INTEGER NOT NULL,
	time     INTEGER NOT NULL,
	read_seq INTEGER NOT NULL DEFAULT 0,
	unread   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (app, owner, peer)
) WITHOUT ROWID;
CREATE INDEX convs_by_time ON convs (app, owner, time, peer);
