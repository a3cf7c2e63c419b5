-- A write to a deleted secret revives it without reopening its old versions: those up to
-- deleted_through stay closed until an admin restores the secret.
ALTER TABLE secrets ADD COLUMN deleted_through BIGINT NOT NULL DEFAULT 0;
-- A share hands out the version it was made for. Shares made before this migration get the
-- version that was current when it ran.
ALTER TABLE shares ADD COLUMN secret_version BIGINT NOT NULL DEFAULT 0;
UPDATE shares SET secret_version = COALESCE((SELECT current_version FROM secrets WHERE secrets.id = shares.secret_id), 0);
