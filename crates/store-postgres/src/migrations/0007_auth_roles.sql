-- Login roles of the Vault-compatible API (Kubernetes, JWT, AppRole), each mapped to an agent.
CREATE TABLE auth_roles (
    id                UUID PRIMARY KEY,
    method            TEXT NOT NULL,
    name              TEXT NOT NULL,
    agent_id          UUID NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    bindings          TEXT NOT NULL,
    secret_hash       BYTEA,
    token_ttl_seconds BIGINT NOT NULL,
    created_by        UUID NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (method, name)
);
