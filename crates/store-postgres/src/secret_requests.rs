//! Secret requests: one-time links on which a user enters a value.

use clawvault_store::{AuditBatch, Result, SecretRequestRecord};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rows;
use crate::sql;
use crate::{PgStore, backend};

pub(crate) async fn create(
    s: &PgStore,
    r: &SecretRequestRecord,
    forget_before: OffsetDateTime,
    batch: AuditBatch<'_>,
) -> Result<()> {
    let r = r.clone();
    let forget = sql::query("DELETE FROM secret_requests WHERE expires_at < $1").bind(forget_before);
    let insert = sql::query(
        "INSERT INTO secret_requests (id, vault_id, path, secret_type, description, requested_by, requested_by_type, \
         requested_with_key, requested_generation, created_at, expires_at, used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(r.id)
    .bind(r.vault_id)
    .bind(r.path)
    .bind(r.secret_type.as_str())
    .bind(r.description)
    .bind(r.requested_by)
    .bind(r.requested_by_type.as_str())
    .bind(r.requested_with_key)
    .bind(r.requested_generation)
    .bind(r.created_at)
    .bind(r.expires_at)
    .bind(r.used_at);
    // The insert goes first: `audited` writes nothing when its first statement touches no row.
    s.audited(vec![insert, forget], "that secret request exists", batch).await.map(|_| ())
}

pub(crate) async fn get(s: &PgStore, id: Uuid) -> Result<Option<SecretRequestRecord>> {
    rows::one(s, sql::query("SELECT * FROM secret_requests WHERE id = $1").bind(id), rows::secret_request).await
}

pub(crate) async fn open_count(s: &PgStore, requester: Uuid, now: OffsetDateTime) -> Result<i64> {
    sql::query_scalar(
        "SELECT COUNT(*) FROM secret_requests WHERE requested_by = $1 AND expires_at > $2 AND used_at IS NULL",
    )
    .bind(requester)
    .bind(now)
    .fetch_one(s.pool())
    .await
    .map_err(backend)
}

pub(crate) async fn claim(s: &PgStore, id: Uuid, at: OffsetDateTime) -> Result<bool> {
    let done =
        sql::query("UPDATE secret_requests SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $1")
            .bind(at)
            .bind(id)
            .execute(s.pool())
            .await
            .map_err(backend)?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn release(s: &PgStore, id: Uuid) -> Result<()> {
    sql::query("UPDATE secret_requests SET used_at = NULL WHERE id = $1")
        .bind(id)
        .execute(s.pool())
        .await
        .map_err(backend)?;
    Ok(())
}
