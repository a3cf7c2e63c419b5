-- Events on their way into the chain (see chain.rs). A server's batch of events is one INSERT
-- here, committed before anyone is answered for them, without the chain head's lock: servers
-- append side by side, and PostgreSQL's group commit flushes their commits together. Whichever
-- server holds audit_head's row lock then moves them into audit_events in the order of pos,
-- chained. mac is the event's MAC under the chain key (ChainKey::seal): a row written by anyone
-- without the key is refused, never chained. Write batches take change_head's row lock first
-- (the order of changes and secret events), no longer audit_head's.
CREATE TABLE audit_inbox (
    pos           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            UUID NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    action        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    actor_type    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    vault_id      UUID,
    ip_address    TEXT,
    details       TEXT NOT NULL,
    mac           BYTEA NOT NULL
);
-- A queue: every row is deleted within milliseconds. Vacuumed by the number of dead rows, not
-- by a fraction of a table that stays nearly empty, so scans of it never wade through more
-- than a few thousand.
ALTER TABLE audit_inbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
