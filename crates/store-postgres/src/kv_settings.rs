//! Vault KV settings of keys.

use clawvault_store::{AuditBatch, KvSettingsRecord, Result};
use uuid::Uuid;

use crate::PgStore;
use crate::rows;
use crate::sql;

pub(crate) async fn get(s: &PgStore, vault_id: Uuid, path: &str) -> Result<Option<KvSettingsRecord>> {
    let q =
        sql::query("SELECT * FROM kv_settings WHERE vault_id = $1 AND path = $2").bind(vault_id).bind(path.to_owned());
    rows::one(s, q, rows::kv_settings).await
}

pub(crate) async fn under(s: &PgStore, vault_id: Uuid, prefix: &str) -> Result<Vec<KvSettingsRecord>> {
    let q = sql::query(
        "SELECT * FROM kv_settings WHERE vault_id = $1 AND starts_with(path, $2) ORDER BY path COLLATE \"C\"",
    )
    .bind(vault_id)
    .bind(prefix.to_owned());
    rows::many(s, q, rows::kv_settings).await
}

pub(crate) async fn put(s: &PgStore, r: &KvSettingsRecord, batch: AuditBatch<'_>) -> Result<()> {
    let r = r.clone();
    let q = sql::query(
        "INSERT INTO kv_settings (vault_id, path, settings, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (vault_id, path) DO UPDATE SET settings = EXCLUDED.settings, updated_at = EXCLUDED.updated_at",
    )
    .bind(r.vault_id)
    .bind(r.path)
    .bind(r.settings)
    .bind(r.updated_at);
    s.audited(vec![q], "", batch).await.map(|_| ())
}

pub(crate) async fn delete(s: &PgStore, vault_id: Uuid, path: &str, batch: AuditBatch<'_>) -> Result<bool> {
    let q =
        sql::query("DELETE FROM kv_settings WHERE vault_id = $1 AND path = $2").bind(vault_id).bind(path.to_owned());
    Ok(s.audited(vec![q], "", batch).await? > 0)
}
