-- Login roles of the Vault-compatible API (Kubernetes, JWT, AppRole), each mapped to an agent.
CREATE TABLE auth_roles (
    id                BLOB PRIMARY KEY,
    method            TEXT NOT NULL,
    name              TEXT NOT NULL,
    agent_id          BLOB NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    bindings          TEXT NOT NULL,
    secret_hash       BLOB,
    token_ttl_seconds INTEGER NOT NULL,
    created_by        BLOB NOT NULL,
    created_at        INTEGER NOT NULL,
    UNIQUE (method, name)
);
