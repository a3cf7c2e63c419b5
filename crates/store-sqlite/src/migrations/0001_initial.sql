CREATE TABLE server_keys (
    name        TEXT PRIMARY KEY,
    wrapped     BLOB NOT NULL,
    root_key_id TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id         BLOB PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_prefix   TEXT NOT NULL,
    key_hash     BLOB NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    is_active    INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE TABLE vaults (
    id              BLOB PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT NOT NULL,
    created_by      BLOB NOT NULL,
    created_by_type TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    wrapped_key     BLOB NOT NULL,
    root_key_id     TEXT NOT NULL
);

CREATE TABLE secrets (
    id              BLOB PRIMARY KEY,
    vault_id        BLOB NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    path            TEXT NOT NULL,
    current_version INTEGER NOT NULL,
    created_by      BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted_at      INTEGER,
    UNIQUE (vault_id, path)
);

CREATE TABLE secret_versions (
    secret_id        BLOB NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    secret_type      TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    created_by       BLOB NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER,
    max_access_count INTEGER,
    access_count     INTEGER NOT NULL DEFAULT 0,
    is_disabled      INTEGER NOT NULL DEFAULT 0,
    ciphertext       BLOB NOT NULL,
    PRIMARY KEY (secret_id, version)
) WITHOUT ROWID;

-- seq is assigned by the writer from the chain head: gap-free, one order. The table has no
-- secondary index: every read appends a row here before it answers, and each index would add
-- a page (for random resources, a different page per event) to that commit.
CREATE TABLE audit_events (
    seq           INTEGER PRIMARY KEY,
    id            BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    action        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    actor_type    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    vault_id      BLOB,
    ip_address    TEXT,
    details       TEXT NOT NULL,
    prev_hash     BLOB NOT NULL,
    hash          BLOB NOT NULL
);

-- Lookups for filtered audit queries, filled after the fact in large sorted batches (see
-- audit.rs): kind 1 action, 2 actor_id, 3 resource_id, 4 created_at (20-digit text).
CREATE TABLE audit_lookup (
    kind  INTEGER NOT NULL,
    value TEXT NOT NULL,
    seq   INTEGER NOT NULL,
    PRIMARY KEY (kind, value, seq)
) WITHOUT ROWID;

-- Events up to this seq are in audit_lookup; later ones are found by scanning the tail.
CREATE TABLE audit_indexed (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO audit_indexed (id, seq) VALUES (1, 0);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL,
    mac  BLOB NOT NULL
);
