-- imkit schema, version 1. Times are Unix milliseconds (0: the zero time),
-- days "2006-01-02", months "2006-01". User IDs and days sort bytewise
-- (COLLATE "C"), as Go compares strings: the two users of a conversation are
-- stored in that order, and transactions lock users rows in that order.

CREATE TABLE apps (
	sdk_app_id    bigint PRIMARY KEY,
	key           text NOT NULL,
	admin         text NOT NULL,
	policy        integer NOT NULL,
	max_instances text NOT NULL, -- "platform=n,platform=n"
	webhook_url   text NOT NULL,
	created_at    bigint NOT NULL
);

-- Users. A users row is also the lock of everything that is the user's
-- alone: Login, KickUser and DeleteUser lock it to change its sessions,
-- AppendMessages to take the next seqs of its mailbox.
CREATE TABLE users (
	app            bigint NOT NULL,
	user_id        text COLLATE "C" NOT NULL,
	nick           text NOT NULL DEFAULT '',
	face_url       text NOT NULL DEFAULT '',
	imported       boolean NOT NULL DEFAULT false,
	created_at     bigint NOT NULL,
	revoked_before bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (app, user_id)
);

-- Sessions; n orders the sessions of a user that logged in at the same
-- time (its logins are serialised by the users row lock).
CREATE TABLE sessions (
	id            text PRIMARY KEY,
	n             bigint GENERATED ALWAYS AS IDENTITY,
	app           bigint NOT NULL,
	user_id       text COLLATE "C" NOT NULL,
	platform      integer NOT NULL,
	instance_id   text NOT NULL,
	login_at      bigint NOT NULL,
	ticket_time   bigint NOT NULL,
	ticket_expire bigint NOT NULL,
	state         integer NOT NULL,
	ended_at      bigint NOT NULL DEFAULT 0,
	kick_reason   integer NOT NULL DEFAULT 0,
	kick_platform integer NOT NULL DEFAULT 0,
	kick_at       bigint NOT NULL DEFAULT 0
);
CREATE INDEX sessions_active ON sessions (app, user_id, login_at, n) WHERE state = 1;
CREATE INDEX sessions_ended ON sessions (ended_at) WHERE state <> 1;

-- Daily statistics, as counters split over shards: a transaction adds to
-- the row of its connection's shard, so that concurrent logins and message
-- batches of one app (from one node or several) do not all queue for one
-- row; DayStats adds the shards up (peak_online: their maximum).
CREATE TABLE day_stats (
	app          bigint NOT NULL,
	day          text COLLATE "C" NOT NULL,
	shard        integer NOT NULL,
	active_users bigint NOT NULL DEFAULT 0,
	logins       bigint NOT NULL DEFAULT 0,
	new_users    bigint NOT NULL DEFAULT 0,
	peak_online  bigint NOT NULL DEFAULT 0,
	messages     bigint NOT NULL DEFAULT 0,
	senders      bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (app, day, shard)
);

-- Who was counted: active users of a day and a month, senders of a day.
CREATE TABLE day_users (
	app     bigint NOT NULL,
	day     text COLLATE "C" NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (app, day, user_id)
);
CREATE TABLE month_users (
	app     bigint NOT NULL,
	month   text COLLATE "C" NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (app, month, user_id)
);
CREATE TABLE day_senders (
	app     bigint NOT NULL,
	day     text COLLATE "C" NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (app, day, user_id)
);

-- Messages: one row per message. (a, b) are its two users in order, a <= b
-- (a = b for a message to oneself), conv_seq its place in their
-- conversation, from_seq and to_seq its places in the sender's and the
-- receiver's mailbox. client_msg_id is bytea: it is the client's, and text
-- refuses some strings (NUL) that would fail a whole batch.
CREATE TABLE messages (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	app           bigint NOT NULL,
	a             text COLLATE "C" NOT NULL,
	b             text COLLATE "C" NOT NULL,
	conv_seq      bigint NOT NULL,
	from_user     text COLLATE "C" NOT NULL, -- a or b; the receiver is the other one
	from_seq      bigint NOT NULL,
	to_seq        bigint NOT NULL,
	msg_key       text NOT NULL,
	client_msg_id bytea NOT NULL,
	random        bigint NOT NULL,
	time          bigint NOT NULL,
	body          bytea NOT NULL
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
	app    bigint NOT NULL,
	owner  text COLLATE "C" NOT NULL,
	seq    bigint NOT NULL,
	msg_id bigint NOT NULL, -- messages.id
	PRIMARY KEY (app, owner, seq)
);

-- Conversations: one row per pair of users (a <= b, as in messages) with
-- each side's state, so that a batch of messages changes one row per
-- conversation. conv_seq and time are the newest message's. A side is on
-- while its user has the conversation (DeleteUser turns it off; the next
-- message turns it on afresh); since is the first message the side has
-- (later than 1 for an account deleted and made again), read its ReadSeq.
-- A conversation with oneself uses side a only. Its rows change with every
-- message: the free space left in each page lets most updates stay on the
-- page (HOT), since they change no indexed column.
CREATE TABLE convs (
	app      bigint NOT NULL,
	a        text COLLATE "C" NOT NULL,
	b        text COLLATE "C" NOT NULL,
	conv_seq bigint NOT NULL,
	time     bigint NOT NULL,
	a_on     boolean NOT NULL,
	a_read   bigint NOT NULL,
	a_unread bigint NOT NULL,
	a_since  bigint NOT NULL,
	b_on     boolean NOT NULL,
	b_read   bigint NOT NULL,
	b_unread bigint NOT NULL,
	b_since  bigint NOT NULL,
	PRIMARY KEY (app, a, b)
) WITH (fillfactor = 80);
-- A user's conversations are those it is a of (the primary key) and those
-- it is b of.
CREATE INDEX convs_b ON convs (app, b);
