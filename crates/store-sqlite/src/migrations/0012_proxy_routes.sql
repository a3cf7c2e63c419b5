-- Routes of the credential-injecting proxy, and what each identity spent on each per day.
CREATE TABLE proxy_routes (
    name       TEXT PRIMARY KEY,
    vault_id   BLOB NOT NULL,
    spec       TEXT NOT NULL,
    created_by BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE proxy_usage (
    principal_id   BLOB NOT NULL,
    route          TEXT NOT NULL,
    day            INTEGER NOT NULL,
    requests       INTEGER NOT NULL,
    response_bytes INTEGER NOT NULL,
    PRIMARY KEY (day, route, principal_id)
);
