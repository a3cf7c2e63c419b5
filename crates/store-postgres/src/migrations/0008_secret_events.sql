-- What happened to which secret (never a value), for event streams. Rows are inserted by
-- writes that hold the audit chain's head lock, so numbers are taken in commit order; pruned
-- after a window, always keeping the newest row.
CREATE TABLE secret_events (
    seq        BIGSERIAL PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    vault_id   UUID NOT NULL,
    path       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    version    BIGINT NOT NULL
);
CREATE INDEX secret_events_created ON secret_events(created_at);
