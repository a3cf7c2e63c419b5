-- The audit trail's durable record is now the append-only log beside this file
-- (`<database>-audit/`); audit_events, audit_lookup and audit_head are its index, filled behind
-- it. A batch of writes logs its events before it commits and records here the last of them in
-- the same transaction: a logged batch of writes whose number is above this mark never
-- committed (the server stopped in between), which reopening finds and reports.
CREATE TABLE audit_applied (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO audit_applied (id, seq) VALUES (1, 0);
