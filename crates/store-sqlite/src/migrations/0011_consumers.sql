-- What each consumer (a `run --watch`, a `sync` daemon) of an identity holds of each secret.
CREATE TABLE consumers (
    principal_id   BLOB NOT NULL,
    principal_type TEXT NOT NULL,
    consumer       TEXT NOT NULL,
    host           TEXT NOT NULL,
    vault_id       BLOB NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    path           TEXT NOT NULL,
    version        INTEGER NOT NULL,
    seen_at        INTEGER NOT NULL,
    PRIMARY KEY (principal_id, consumer, host, vault_id, path)
);
CREATE INDEX consumers_secret ON consumers(vault_id, path);
