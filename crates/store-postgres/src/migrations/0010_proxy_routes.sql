-- Routes of the credential-injecting proxy, and what each identity spent on each per day.
CREATE TABLE proxy_routes (
    name       TEXT PRIMARY KEY,
    vault_id   UUID NOT NULL,
    spec       TEXT NOT NULL,
    created_by UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE proxy_usage (
    principal_id   UUID NOT NULL,
    route          TEXT NOT NULL,
    day            BIGINT NOT NULL,
    requests       BIGINT NOT NULL,
    response_bytes BIGINT NOT NULL,
    PRIMARY KEY (day, route, principal_id)
);
