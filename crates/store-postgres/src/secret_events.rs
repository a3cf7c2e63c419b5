//! Secret events on PostgreSQL: recorded in the write's transaction, which holds the change
//! head's lock, so numbers are taken and committed in one order across every server.

use clawvault_store::{Result, SecretEvent, SecretEventKind, SecretEventPage, StoreError, StoredSecretEvent};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rows::{self, get};
use crate::sql::{self, PgConnection, PgRow};
use crate::{PgStore, backend};

/// Records `events` in the caller's transaction.
pub(crate) async fn record(conn: &mut PgConnection, events: &[SecretEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    // Numbers are taken in commit order only under the change head's lock, which every batch
    // of writes takes first (taken again here, so that no caller can forget it).
    sql::query("SELECT 1 FROM change_head WHERE id = 1 FOR UPDATE").execute(&mut *conn).await.map_err(backend)?;
    let vaults: Vec<Uuid> = events.iter().map(|e| e.vault_id).collect();
    let paths: Vec<String> = events.iter().map(|e| e.path.clone()).collect();
    let kinds: Vec<String> = events.iter().map(|e| e.kind.as_str().to_owned()).collect();
    let versions: Vec<i64> = events.iter().map(|e| e.version).collect();
    sql::query(
        "INSERT INTO secret_events (created_at, vault_id, path, kind, version) \
         SELECT now(), v, p, k, n FROM UNNEST($1::UUID[], $2::TEXT[], $3::TEXT[], $4::BIGINT[]) WITH ORDINALITY AS e(v, p, k, n, ord) \
         ORDER BY ord",
    )
    .bind(vaults)
    .bind(paths)
    .bind(kinds)
    .bind(versions)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

fn stored(row: &PgRow) -> Result<StoredSecretEvent> {
    let kind: String = get(row, "kind")?;
    Ok(StoredSecretEvent {
        seq: get(row, "seq")?,
        at: get(row, "created_at")?,
        event: SecretEvent {
            vault_id: get(row, "vault_id")?,
            path: get(row, "path")?,
            kind: SecretEventKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown secret event kind {kind:?}")))?,
            version: get(row, "version")?,
        },
    })
}

pub(crate) async fn after(s: &PgStore, after: i64, limit: u32) -> Result<SecretEventPage> {
    let oldest: Option<i64> =
        sql::query_scalar("SELECT MIN(seq) FROM secret_events").fetch_one(s.pool()).await.map_err(backend)?;
    let q = sql::query("SELECT * FROM secret_events WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(after)
        .bind(i64::from(limit));
    let events = rows::many(s, q, stored).await?;
    Ok(SecretEventPage { events, complete: oldest.is_none_or(|o| o <= after.saturating_add(1)) })
}

pub(crate) async fn head(s: &PgStore) -> Result<i64> {
    let newest: Option<i64> =
        sql::query_scalar("SELECT MAX(seq) FROM secret_events").fetch_one(s.pool()).await.map_err(backend)?;
    Ok(newest.unwrap_or(0))
}

pub(crate) async fn prune(s: &PgStore, before: OffsetDateTime) -> Result<u64> {
    let done =
        sql::query("DELETE FROM secret_events WHERE created_at < $1 AND seq < (SELECT MAX(seq) FROM secret_events)")
            .bind(before)
            .execute(s.pool())
            .await
            .map_err(backend)?;
    Ok(done.rows_affected())
}
