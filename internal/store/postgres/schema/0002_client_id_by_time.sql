-- Deduplication by (From, ClientMsgID), with the ID first: clients make
-- time-ordered IDs (the SDK's start with the time in milliseconds), so new
-- entries land on the index's last pages rather than on one page per
-- sender.
DROP INDEX messages_client_id;
CREATE UNIQUE INDEX messages_client_id ON messages (app, client_msg_id, from_user)
	WHERE client_msg_id <> '';
