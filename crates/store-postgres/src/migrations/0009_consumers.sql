-- What each consumer (a `run --watch`, a `sync` daemon) of an identity holds of each secret.
CREATE TABLE consumers (
    principal_id   UUID NOT NULL,
    principal_type TEXT NOT NULL,
    consumer       TEXT NOT NULL,
    host           TEXT NOT NULL,
    vault_id       UUID NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    path           TEXT NOT NULL,
    version        BIGINT NOT NULL,
    seen_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (principal_id, consumer, host, vault_id, path)
);
CREATE INDEX consumers_secret ON consumers(vault_id, path);
