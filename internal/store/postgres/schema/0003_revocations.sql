-- Deleting an account revokes the tickets signed before the deletion. The
-- account is gone, so the revocation is kept here and given to the account
-- made again with the same ID (by a login, an import or a message).
CREATE TABLE revocations (
	app     bigint NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	before  bigint NOT NULL, -- Unix seconds, as users.revoked_before
	PRIMARY KEY (app, user_id)
);

CREATE FUNCTION users_made_again() RETURNS trigger LANGUAGE plpgsql
	SET search_path FROM CURRENT AS $$
BEGIN
	NEW.revoked_before := greatest(NEW.revoked_before,
		coalesce((SELECT r.before FROM revocations r WHERE r.app = NEW.app AND r.user_id = NEW.user_id), 0));
	RETURN NEW;
END $$;

CREATE TRIGGER users_made_again BEFORE INSERT ON users
	FOR EACH ROW EXECUTE FUNCTION users_made_again();
