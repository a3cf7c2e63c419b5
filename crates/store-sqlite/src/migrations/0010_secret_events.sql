-- What happened to which secret (never a value), in commit order, for event streams; pruned
-- after a window, always keeping the newest row.
CREATE TABLE secret_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    vault_id   BLOB NOT NULL,
    path       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    version    INTEGER NOT NULL
);
CREATE INDEX secret_events_created ON secret_events(created_at);
