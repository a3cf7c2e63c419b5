-- Requests for a person to enter a secret's value on a one-time page. The row id is a keyed
-- hash of the link's token, which is never stored.
CREATE TABLE secret_requests (
    id                 BLOB PRIMARY KEY,
    vault_id           BLOB NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    path               TEXT NOT NULL,
    secret_type        TEXT NOT NULL,
    description        TEXT NOT NULL,
    requested_by       BLOB NOT NULL,
    requested_by_type  TEXT NOT NULL,
    requested_with_key BLOB,
    requested_generation INTEGER,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    used_at            INTEGER
);
CREATE INDEX secret_requests_requester ON secret_requests(requested_by, expires_at);
CREATE INDEX secret_requests_expiry ON secret_requests(expires_at);
