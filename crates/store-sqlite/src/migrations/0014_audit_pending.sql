-- A batch of writes no longer waits for the audit log's sync: its events are made durable by
-- its own transaction, as the log records of the batch (`records`: each a u32 little-endian
-- length and the record), and written to the log without waiting for the disk. A row goes once
-- the log has been synced past it. Opening writes back into the log the batches a crash kept
-- from it.
CREATE TABLE audit_pending (
    last_seq  INTEGER PRIMARY KEY,
    first_seq INTEGER NOT NULL,
    records   BLOB NOT NULL
);
