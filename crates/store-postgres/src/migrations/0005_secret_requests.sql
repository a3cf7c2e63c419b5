-- Requests for a person to enter a secret's value on a one-time page. The row id is a keyed
-- hash of the link's token, which is never stored.
CREATE TABLE secret_requests (
    id                 UUID PRIMARY KEY,
    vault_id           UUID NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    path               TEXT NOT NULL,
    secret_type        TEXT NOT NULL,
    description        TEXT NOT NULL,
    requested_by       UUID NOT NULL,
    requested_by_type  TEXT NOT NULL,
    requested_with_key UUID,
    requested_generation BIGINT,
    created_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL,
    used_at            TIMESTAMPTZ
);
CREATE INDEX secret_requests_requester ON secret_requests(requested_by, expires_at);
CREATE INDEX secret_requests_expiry ON secret_requests(expires_at);
