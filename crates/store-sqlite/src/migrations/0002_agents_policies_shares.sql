CREATE TABLE agents (
    id                  BLOB PRIMARY KEY,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    created_by          BLOB NOT NULL,
    key_hash            BLOB UNIQUE,
    key_prefix          TEXT,
    key_expires_at      INTEGER,
    is_active           INTEGER NOT NULL,
    token_ttl_seconds   INTEGER,
    vault_ids           TEXT NOT NULL,
    scopes              TEXT NOT NULL,
    expires_at          INTEGER,
    not_before          INTEGER,
    auth_method         TEXT NOT NULL,
    intents_api_enabled INTEGER NOT NULL,
    shroud_enabled      INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    last_active_at      INTEGER
);

CREATE TABLE policies (
    id                  BLOB PRIMARY KEY,
    vault_id            BLOB NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    principal_kind      TEXT NOT NULL,
    principal_id        BLOB NOT NULL,
    secret_path_pattern TEXT NOT NULL,
    permissions         TEXT NOT NULL,
    effect              TEXT NOT NULL,
    conditions          TEXT NOT NULL,
    priority            INTEGER NOT NULL,
    expires_at          INTEGER,
    created_by          BLOB NOT NULL,
    created_by_type     TEXT NOT NULL,
    created_at          INTEGER NOT NULL
);
CREATE INDEX policies_vault ON policies(vault_id);
CREATE INDEX policies_principal ON policies(principal_id);

CREATE TABLE shares (
    id               BLOB PRIMARY KEY,
    secret_id        BLOB NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    vault_id         BLOB NOT NULL,
    secret_path      TEXT NOT NULL,
    created_by       BLOB NOT NULL,
    created_by_type  TEXT NOT NULL,
    recipient_type   TEXT NOT NULL,
    recipient_id     BLOB,
    recipient_email  TEXT,
    passphrase_hash  TEXT,
    expires_at       INTEGER NOT NULL,
    max_access_count INTEGER,
    access_count     INTEGER NOT NULL DEFAULT 0,
    ip_allowlist     TEXT NOT NULL,
    accepted         INTEGER NOT NULL DEFAULT 0,
    declined         INTEGER NOT NULL DEFAULT 0,
    revoked          INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);
CREATE INDEX shares_creator ON shares(created_by);
CREATE INDEX shares_recipient ON shares(recipient_id);

CREATE TABLE enrollments (
    id              BLOB PRIMARY KEY,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    public_key      TEXT,
    fingerprint     TEXT NOT NULL,
    poll_token_hash BLOB NOT NULL,
    status          TEXT NOT NULL,
    agent_id        BLOB,
    sealed_key      BLOB,
    decided_by      BLOB,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
