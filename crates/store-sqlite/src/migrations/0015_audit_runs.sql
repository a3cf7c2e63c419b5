-- Lookups are merged in runs (see audit_query.rs): each run's lookups under a key prefix of
-- their own, so that a run is written as one sorted region instead of one page per event of a
-- random resource. The lookups merged so far become run 0, which covers them all.
CREATE TABLE audit_lookup_runs (
    kind  INTEGER NOT NULL,
    run   INTEGER NOT NULL,
    value TEXT NOT NULL,
    seq   INTEGER NOT NULL,
    PRIMARY KEY (kind, run, value, seq)
) WITHOUT ROWID;
INSERT INTO audit_lookup_runs (kind, run, value, seq) SELECT kind, 0, value, seq FROM audit_lookup;
DROP TABLE audit_lookup;
ALTER TABLE audit_lookup_runs RENAME TO audit_lookup;

-- The runs merged, by the mark they started from.
CREATE TABLE audit_runs (
    run INTEGER PRIMARY KEY
);
INSERT INTO audit_runs (run) VALUES (0);
