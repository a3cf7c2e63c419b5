-- The audit trail's durable record is now the append-only log beside this file
-- (`<database>-audit/`); audit_events, audit_lookup and audit_head are its index, filled behind
-- it. A batch of writes logs its events before it commits and records here the last of them in
-- the same transaction: a logged batch of writes whose number is above this mark never
-- committed (the server stopped in between), which reopening finds and reports. log_made is set
-- once the events of a database from before the log are all in it: from then on a missing log
-- is refused, not made again.
CREATE TABLE audit_applied (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    seq      INTEGER NOT NULL,
    log_made INTEGER NOT NULL
);
INSERT INTO audit_applied (id, seq, log_made) VALUES (1, 0, 0);
