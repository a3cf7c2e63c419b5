//! Login roles of the Vault-compatible API.

use clawvault_store::{AuditBatch, AuthRoleRecord, Result};
use uuid::Uuid;

use crate::PgStore;
use crate::rows;
use crate::sql;

pub(crate) async fn create(s: &PgStore, r: &AuthRoleRecord, batch: AuditBatch<'_>) -> Result<()> {
    let r = r.clone();
    let q = sql::query(
        "INSERT INTO auth_roles (id, method, name, agent_id, bindings, secret_hash, token_ttl_seconds, created_by, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(r.id)
    .bind(r.method)
    .bind(r.name)
    .bind(r.agent_id)
    .bind(r.bindings)
    .bind(r.secret_hash)
    .bind(r.token_ttl_seconds)
    .bind(r.created_by)
    .bind(r.created_at);
    s.audited(vec![q], "a role of that method with that name exists", batch).await.map(|_| ())
}

pub(crate) async fn get(s: &PgStore, method: &str, name: &str) -> Result<Option<AuthRoleRecord>> {
    let q = sql::query("SELECT * FROM auth_roles WHERE method = $1 AND name = $2")
        .bind(method.to_owned())
        .bind(name.to_owned());
    rows::one(s, q, rows::auth_role).await
}

pub(crate) async fn by_id(s: &PgStore, id: Uuid) -> Result<Option<AuthRoleRecord>> {
    rows::one(s, sql::query("SELECT * FROM auth_roles WHERE id = $1").bind(id), rows::auth_role).await
}

pub(crate) async fn all(s: &PgStore) -> Result<Vec<AuthRoleRecord>> {
    rows::many(s, sql::query("SELECT * FROM auth_roles ORDER BY method, name COLLATE \"C\""), rows::auth_role).await
}

pub(crate) async fn delete(s: &PgStore, id: Uuid, batch: AuditBatch<'_>) -> Result<bool> {
    Ok(s.audited(vec![sql::query("DELETE FROM auth_roles WHERE id = $1").bind(id)], "", batch).await? > 0)
}
