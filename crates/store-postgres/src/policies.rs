//! Policies: who may do what on which paths of a vault.

use clawvault_store::codec;
use clawvault_store::{AuditBatch, PolicyRecord, PrincipalKind, Result};
use uuid::Uuid;

use crate::rows;
use crate::sql;
use crate::{PgStore, audit, backend};

pub(crate) async fn create_policy(s: &PgStore, p: &PolicyRecord, batch: AuditBatch<'_>) -> Result<()> {
    let p = p.clone();
    let insert = sql::query(
        "INSERT INTO policies (id, vault_id, principal_kind, principal_id, secret_path_pattern, permissions, effect, \
         conditions, priority, expires_at, created_by, created_by_type, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(p.id)
    .bind(p.vault_id)
    .bind(p.principal_kind.as_str())
    .bind(p.principal_id)
    .bind(p.secret_path_pattern)
    .bind(codec::permission_names(&p.permissions))
    .bind(p.effect.as_str())
    .bind(codec::conditions_text(&p.conditions))
    .bind(p.priority)
    .bind(p.expires_at)
    .bind(p.created_by)
    .bind(p.created_by_type.as_str())
    .bind(p.created_at);
    s.audited(vec![insert], "that policy exists", batch).await.map(|_| ())
}

pub(crate) async fn policy(s: &PgStore, id: Uuid) -> Result<Option<PolicyRecord>> {
    rows::one(s, sql::query("SELECT * FROM policies WHERE id = $1").bind(id), rows::policy).await
}

pub(crate) async fn list_policies(s: &PgStore, vault_id: Uuid) -> Result<Vec<PolicyRecord>> {
    rows::many(
        s,
        sql::query("SELECT * FROM policies WHERE vault_id = $1 ORDER BY created_at, id").bind(vault_id),
        rows::policy,
    )
    .await
}

pub(crate) async fn policies_of(s: &PgStore, kind: PrincipalKind, principal_id: Uuid) -> Result<Vec<PolicyRecord>> {
    rows::many(
        s,
        sql::query("SELECT * FROM policies WHERE principal_id = $1 AND principal_kind = $2 ORDER BY created_at, id")
            .bind(principal_id)
            .bind(kind.as_str()),
        rows::policy,
    )
    .await
}

/// Runs a change to one policy with its audit events. False when there was no such policy.
async fn change_policy(s: &PgStore, id: Uuid, q: sql::PgQuery<'static>, batch: AuditBatch<'_>) -> Result<bool> {
    let batch = s.owned(batch);
    s.write(move |tx| {
        Box::pin(async move {
            let exists: Option<Uuid> = sql::query_scalar("SELECT id FROM policies WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            if exists.is_none() {
                return Ok(false);
            }
            q.execute(&mut *tx).await.map_err(backend)?;
            audit::append(&mut *tx, &batch).await?;
            Ok(true)
        })
    })
    .await
}

pub(crate) async fn update_policy(s: &PgStore, p: &PolicyRecord, batch: AuditBatch<'_>) -> Result<bool> {
    let q = sql::query(
        "UPDATE policies SET permissions = $1, effect = $2, conditions = $3, priority = $4, expires_at = $5 WHERE id = $6",
    )
    .bind(codec::permission_names(&p.permissions))
    .bind(p.effect.as_str())
    .bind(codec::conditions_text(&p.conditions))
    .bind(p.priority)
    .bind(p.expires_at)
    .bind(p.id);
    change_policy(s, p.id, q, batch).await
}

pub(crate) async fn delete_policy(s: &PgStore, id: Uuid, batch: AuditBatch<'_>) -> Result<bool> {
    change_policy(s, id, sql::query("DELETE FROM policies WHERE id = $1").bind(id), batch).await
}
