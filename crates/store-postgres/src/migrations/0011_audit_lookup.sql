-- The audit events' query indexes leave the append path: each appended event wrote five
-- B-tree entries while its batch held the chain head's lock. Lookups are now filled behind the
-- appends, in sorted batches, by whichever server holds audit_indexed's row lock (see
-- audit_index.rs): kind 1 action, 2 actor_id, 3 resource_id, 4 created_at (microseconds since
-- the epoch as 20-digit text). Queries take candidates from audit_lookup up to the mark and scan
-- the events after it by seq.
DROP INDEX audit_events_action;
DROP INDEX audit_events_actor;
DROP INDEX audit_events_resource;
DROP INDEX audit_events_created;
CREATE TABLE audit_lookup (
    kind  SMALLINT NOT NULL,
    value TEXT NOT NULL,
    seq   BIGINT NOT NULL,
    PRIMARY KEY (kind, value, seq)
);
CREATE TABLE audit_indexed (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO audit_indexed (id, seq) VALUES (1, 0);
