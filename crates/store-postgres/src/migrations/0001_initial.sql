CREATE TABLE server_keys (
    name        TEXT PRIMARY KEY,
    wrapped     BYTEA NOT NULL,
    root_key_id TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_prefix   TEXT NOT NULL,
    key_hash     BYTEA NOT NULL UNIQUE,
    scopes       TEXT[] NOT NULL,
    is_active    BOOLEAN NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE vaults (
    id              UUID PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT NOT NULL,
    created_by      UUID NOT NULL,
    created_by_type TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    wrapped_key     BYTEA NOT NULL,
    root_key_id     TEXT NOT NULL
);

CREATE TABLE secrets (
    id              UUID PRIMARY KEY,
    vault_id        UUID NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    path            TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    created_by      UUID NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    deleted_at      TIMESTAMPTZ,
    UNIQUE (vault_id, path)
);

CREATE TABLE secret_versions (
    secret_id        UUID NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    version          BIGINT NOT NULL,
    secret_type      TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    created_by       UUID NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ,
    max_access_count BIGINT,
    access_count     BIGINT NOT NULL DEFAULT 0,
    is_disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    ciphertext       BYTEA NOT NULL,
    PRIMARY KEY (secret_id, version)
);

CREATE TABLE agents (
    id                  UUID PRIMARY KEY,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    created_by          UUID NOT NULL,
    key_hash            BYTEA UNIQUE,
    key_prefix          TEXT,
    key_expires_at      TIMESTAMPTZ,
    is_active           BOOLEAN NOT NULL,
    token_ttl_seconds   BIGINT,
    vault_ids           UUID[] NOT NULL,
    scopes              TEXT[] NOT NULL,
    expires_at          TIMESTAMPTZ,
    not_before          TIMESTAMPTZ,
    token_generation    BIGINT NOT NULL DEFAULT 0,
    auth_method         TEXT NOT NULL,
    intents_api_enabled BOOLEAN NOT NULL,
    shroud_enabled      BOOLEAN NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    last_active_at      TIMESTAMPTZ
);

CREATE TABLE policies (
    id                  UUID PRIMARY KEY,
    vault_id            UUID NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    principal_kind      TEXT NOT NULL,
    principal_id        UUID NOT NULL,
    secret_path_pattern TEXT NOT NULL,
    permissions         TEXT[] NOT NULL,
    effect              TEXT NOT NULL,
    conditions          TEXT NOT NULL,
    priority            BIGINT NOT NULL,
    expires_at          TIMESTAMPTZ,
    created_by          UUID NOT NULL,
    created_by_type     TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX policies_vault ON policies(vault_id);
CREATE INDEX policies_principal ON policies(principal_id);

CREATE TABLE shares (
    id               UUID PRIMARY KEY,
    secret_id        UUID NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    vault_id         UUID NOT NULL,
    secret_path      TEXT NOT NULL,
    created_by       UUID NOT NULL,
    created_by_type  TEXT NOT NULL,
    recipient_type   TEXT NOT NULL,
    recipient_id     UUID,
    recipient_email  TEXT,
    passphrase_hash  TEXT,
    expires_at       TIMESTAMPTZ NOT NULL,
    max_access_count BIGINT,
    access_count     BIGINT NOT NULL DEFAULT 0,
    ip_allowlist     TEXT[] NOT NULL,
    accepted         BOOLEAN NOT NULL DEFAULT FALSE,
    declined         BOOLEAN NOT NULL DEFAULT FALSE,
    revoked          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX shares_creator ON shares(created_by);
CREATE INDEX shares_recipient ON shares(recipient_id);

CREATE TABLE enrollments (
    id              UUID PRIMARY KEY,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    public_key      TEXT,
    fingerprint     TEXT NOT NULL,
    poll_token_hash BYTEA NOT NULL,
    status          TEXT NOT NULL,
    agent_id        UUID,
    sealed_key      BYTEA,
    decided_by      UUID,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL
);

-- One chain for every server: seq is taken from audit_head under its row lock, so events of
-- all servers land gap-free in one order.
CREATE TABLE audit_events (
    seq           BIGINT PRIMARY KEY,
    id            UUID NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    action        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    actor_type    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    vault_id      UUID,
    ip_address    TEXT,
    details       TEXT NOT NULL,
    prev_hash     BYTEA NOT NULL,
    hash          BYTEA NOT NULL
);
CREATE INDEX audit_events_action ON audit_events(action, seq);
CREATE INDEX audit_events_actor ON audit_events(actor_id, seq);
CREATE INDEX audit_events_resource ON audit_events(resource_id, seq);
CREATE INDEX audit_events_created ON audit_events(created_at);

-- seq 0: no event yet (the MAC needs the chain key, which only servers hold).
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    mac  BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, 0, '\x'::bytea, '\x'::bytea);

-- What servers must forget, in commit order (seq taken under change_head's row lock).
CREATE TABLE changes (
    seq        BIGINT PRIMARY KEY,
    change     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE change_head (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO change_head (id, seq) VALUES (1, 0);
