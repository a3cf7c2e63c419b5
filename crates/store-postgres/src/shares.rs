//! Shares: one secret handed to a user, an agent or anyone holding the link.

use clawvault_store::{AuditBatch, Result, ShareChange, ShareRecord};
use uuid::Uuid;

use crate::rows;
use crate::sql;
use crate::{PgStore, backend};

pub(crate) async fn create_share(s: &PgStore, sh: &ShareRecord, batch: AuditBatch<'_>) -> Result<()> {
    let sh = sh.clone();
    let insert = sql::query(
        "INSERT INTO shares (id, secret_id, vault_id, secret_path, created_by, created_by_type, recipient_type, \
         recipient_id, recipient_email, passphrase_hash, expires_at, max_access_count, access_count, ip_allowlist, \
         accepted, declined, revoked, created_at, secret_version, sealed_id, created_with_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
    )
    .bind(sh.id)
    .bind(sh.secret_id)
    .bind(sh.vault_id)
    .bind(sh.secret_path)
    .bind(sh.created_by)
    .bind(sh.created_by_type.as_str())
    .bind(sh.recipient_type.as_str())
    .bind(sh.recipient_id)
    .bind(sh.recipient_email)
    .bind(sh.passphrase_hash)
    .bind(sh.expires_at)
    .bind(sh.max_access_count)
    .bind(sh.access_count)
    .bind(sh.ip_allowlist)
    .bind(sh.accepted)
    .bind(sh.declined)
    .bind(sh.revoked)
    .bind(sh.created_at)
    .bind(sh.secret_version)
    .bind(sh.sealed_id)
    .bind(sh.created_with_key);
    s.audited(vec![insert], "that share exists", batch).await.map(|_| ())
}

pub(crate) async fn share(s: &PgStore, id: Uuid) -> Result<Option<ShareRecord>> {
    rows::one(s, sql::query("SELECT * FROM shares WHERE id = $1").bind(id), rows::share).await
}

pub(crate) async fn unhashed_shares(s: &PgStore) -> Result<Vec<Uuid>> {
    let q = sql::query_scalar::<_, Uuid>("SELECT id FROM shares WHERE sealed_id IS NULL");
    q.fetch_all(s.pool()).await.map_err(backend)
}

pub(crate) async fn rekey_share(s: &PgStore, old: Uuid, row: Uuid, sealed_id: Vec<u8>) -> Result<()> {
    s.write(move |tx| {
        Box::pin(async move {
            sql::query("UPDATE shares SET id = $1, sealed_id = $2 WHERE id = $3 AND sealed_id IS NULL")
                .bind(row)
                .bind(sealed_id)
                .bind(old)
                .execute(&mut *tx)
                .await
                .map_err(crate::backend)?;
            Ok(())
        })
    })
    .await
}

pub(crate) async fn all_shares(s: &PgStore) -> Result<Vec<ShareRecord>> {
    rows::many(s, sql::query("SELECT * FROM shares ORDER BY created_at DESC, id"), rows::share).await
}

pub(crate) async fn shares_where(s: &PgStore, column: &'static str, who: Uuid) -> Result<Vec<ShareRecord>> {
    rows::many(
        s,
        sql::dynamic(format!("SELECT * FROM shares WHERE {column} = $1 ORDER BY created_at DESC, id")).bind(who),
        rows::share,
    )
    .await
}

pub(crate) async fn change_share(s: &PgStore, id: Uuid, change: ShareChange, batch: AuditBatch<'_>) -> Result<bool> {
    let statement = match change {
        // Declining is final: an accept never undoes a decline, even one that raced it.
        ShareChange::Accept => "UPDATE shares SET accepted = TRUE WHERE id = $1 AND declined = FALSE",
        ShareChange::Decline => "UPDATE shares SET declined = TRUE, accepted = FALSE WHERE id = $1",
        ShareChange::Revoke => "UPDATE shares SET revoked = TRUE WHERE id = $1",
    };
    Ok(s.audited(vec![sql::query(statement).bind(id)], "", batch).await? > 0)
}

pub(crate) async fn consume_share(s: &PgStore, id: Uuid, max: Option<i64>) -> Result<Option<i64>> {
    sql::query_scalar(
        "UPDATE shares SET access_count = access_count + 1 WHERE id = $1 AND ($2::BIGINT IS NULL OR access_count < $2) \
         RETURNING access_count",
    )
    .bind(id)
    .bind(max)
    .fetch_optional(s.pool())
    .await
    .map_err(backend)
}
