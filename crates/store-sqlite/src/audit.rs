//! Appending to the audit chain inside a write transaction.

use clawvault_core::audit::{ChainHead, GENESIS};
use clawvault_store::{AuditBatch, Result};
use sqlx::{Row, SqliteConnection};

use crate::backend;
use crate::convert::{hash32, micros};

pub(crate) async fn head(conn: &mut SqliteConnection) -> Result<Option<ChainHead>> {
    let row = sqlx::query("SELECT seq, hash, mac FROM audit_head WHERE id = 1")
        .fetch_optional(conn)
        .await
        .map_err(backend)?;
    row.map(|r| {
        let hash: Vec<u8> = r.get("hash");
        let mac: Vec<u8> = r.get("mac");
        Ok(ChainHead {
            seq: r.get("seq"),
            hash: hash32(&hash, "audit head hash")?,
            mac: hash32(&mac, "audit head mac")?,
        })
    })
    .transpose()
}

/// Links the batch after the current head, inserts it and advances the head. Must run inside
/// the caller's write transaction.
pub(crate) async fn append(conn: &mut SqliteConnection, batch: AuditBatch<'_>) -> Result<()> {
    if batch.events.is_empty() {
        return Ok(());
    }
    let (seq, hash) = head(&mut *conn).await?.map_or((0, GENESIS), |h| (h.seq, h.hash));
    let chained = batch.key.append(seq, hash, batch.events.to_vec());
    for c in &chained {
        let e = &c.event;
        sqlx::query(
            "INSERT INTO audit_events (seq, id, created_at, action, outcome, actor_type, actor_id, \
             resource_type, resource_id, vault_id, ip_address, details, prev_hash, hash) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.seq)
        .bind(e.id)
        .bind(micros(e.created_at))
        .bind(&e.action)
        .bind(e.outcome.as_str())
        .bind(&e.actor_type)
        .bind(&e.actor_id)
        .bind(&e.resource_type)
        .bind(&e.resource_id)
        .bind(e.vault_id)
        .bind(&e.ip_address)
        .bind(&e.details)
        .bind(&c.prev_hash[..])
        .bind(&c.hash[..])
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    }
    if let Some(last) = chained.last() {
        let head = batch.key.head(last.seq, last.hash);
        sqlx::query("INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac")
            .bind(head.seq)
            .bind(&head.hash[..])
            .bind(&head.mac[..])
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    Ok(())
}
