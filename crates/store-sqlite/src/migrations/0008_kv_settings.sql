-- Vault KV v2 on every vault: versions can be undeleted (so a disable records its time) and
-- destroyed (their ciphertext erased), and a key's KV settings live apart from the secret,
-- since a metadata write creates the key before its first version.
ALTER TABLE secret_versions ADD COLUMN disabled_at INTEGER;
ALTER TABLE secret_versions ADD COLUMN destroyed INTEGER NOT NULL DEFAULT 0;
CREATE TABLE kv_settings (
    vault_id   BLOB NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    settings   TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (vault_id, path)
);
