-- A share's id is a capability: rows are keyed by a keyed hash of it and keep the id only
-- sealed. Rows written before have no sealed id; the server re-keys them when it starts.
ALTER TABLE shares ADD COLUMN sealed_id BYTEA;
