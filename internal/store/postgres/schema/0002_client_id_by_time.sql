-- imkit: no transaction
-- Deduplication by (From, ClientMsgID), with the ID first: clients make
-- time-ordered IDs (the SDK's start with the time in milliseconds), so new
-- entries land on the index's last pages rather than on one page per
-- sender. Built CONCURRENTLY, outside a transaction, so that the nodes still
-- running the older version keep reading and writing messages meanwhile;
-- the old index keeps enforcing uniqueness until the new one is valid.
-- Each statement may be run again after a failure.
DROP INDEX IF EXISTS messages_client_id_v2;
CREATE UNIQUE INDEX CONCURRENTLY messages_client_id_v2 ON messages (app, client_msg_id, from_user)
	WHERE client_msg_id <> '';
DROP INDEX IF EXISTS messages_client_id;
ALTER INDEX messages_client_id_v2 RENAME TO messages_client_id;
