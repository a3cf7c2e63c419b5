//! The fleet view: what each consumer holds of each secret.

use clawvault_store::{AuditBatch, ConsumerRecord, Result, codec};
use uuid::Uuid;

use crate::PgStore;
use crate::rows::{self, get};
use crate::sql::{self, PgRow};

fn consumer(row: &PgRow) -> Result<ConsumerRecord> {
    Ok(ConsumerRecord {
        principal_id: get(row, "principal_id")?,
        principal_type: codec::principal_kind(&get::<String>(row, "principal_type")?, "consumer principal kind")?,
        consumer: get(row, "consumer")?,
        host: get(row, "host")?,
        vault_id: get(row, "vault_id")?,
        path: get(row, "path")?,
        version: get(row, "version")?,
        seen_at: get(row, "seen_at")?,
    })
}

pub(crate) async fn ack(s: &PgStore, acks: &[ConsumerRecord], batch: AuditBatch<'_>) -> Result<()> {
    let queries = acks
        .iter()
        .map(|a| {
            sql::query(
                "INSERT INTO consumers (principal_id, principal_type, consumer, host, vault_id, path, version, seen_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (principal_id, consumer, host, vault_id, path) DO UPDATE SET version = $7, seen_at = $8",
            )
            .bind(a.principal_id)
            .bind(a.principal_type.as_str())
            .bind(a.consumer.clone())
            .bind(a.host.clone())
            .bind(a.vault_id)
            .bind(a.path.clone())
            .bind(a.version)
            .bind(a.seen_at)
        })
        .collect();
    s.audited(queries, "", batch).await.map(|_| ())
}

pub(crate) async fn list(s: &PgStore, vault_id: Option<Uuid>, path: Option<&str>) -> Result<Vec<ConsumerRecord>> {
    let q = sql::query(
        "SELECT * FROM consumers WHERE ($1::UUID IS NULL OR vault_id = $1) AND ($2::TEXT IS NULL OR path = $2) \
         ORDER BY vault_id, path COLLATE \"C\", consumer COLLATE \"C\", host COLLATE \"C\"",
    )
    .bind(vault_id)
    .bind(path.map(str::to_owned));
    rows::many(s, q, consumer).await
}
