-- Lookups are merged in runs (see audit_index.rs): each run's lookups under a key prefix of
-- their own, so that a run fills its B-tree pages in order instead of dirtying a leaf per event
-- of a random resource. The lookups merged so far become run 0, which covers them all.
ALTER TABLE audit_lookup ADD COLUMN run BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_lookup DROP CONSTRAINT audit_lookup_pkey;
ALTER TABLE audit_lookup ADD PRIMARY KEY (kind, run, value, seq);
ALTER TABLE audit_lookup ALTER COLUMN run DROP DEFAULT;

-- The runs merged, by the mark they started from.
CREATE TABLE audit_runs (
    run BIGINT PRIMARY KEY
);
INSERT INTO audit_runs (run) VALUES (0);
