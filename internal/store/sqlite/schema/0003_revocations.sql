-- Deleting an account revokes the tickets signed before the deletion. The
-- account is gone, so the revocation is kept here and given to the account
-- made again with the same ID (by a login, an import or a message); a login
-- reads it here while the account is missing.
CREATE TABLE revocations (
	app     INTEGER NOT NULL,
	user_id TEXT NOT NULL,
	before  INTEGER NOT NULL, -- Unix seconds, as users.revoked_before
	PRIMARY KEY (app, user_id)
) WITHOUT ROWID;

CREATE TRIGGER users_made_again AFTER INSERT ON users
	WHEN EXISTS (SELECT 1 FROM revocations WHERE app = NEW.app AND user_id = NEW.user_id)
BEGIN
	UPDATE users SET revoked_before = max(revoked_before,
		(SELECT before FROM revocations WHERE app = NEW.app AND user_id = NEW.user_id))
	WHERE app = NEW.app AND user_id = NEW.user_id;
END;
