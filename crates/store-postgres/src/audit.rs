//! Audit events on PostgreSQL: a batch's events are left in the chain's inbox in the batch's
//! transaction (or, for events alone, in one statement of their own), and chained behind it
//! ([`crate::chain`]); the queries.

use crate::sql;
use crate::sql::{PgConnection, PgPool, Postgres, QueryBuilder};
use clawvault_core::audit::{AuditEvent, ChainHead, ChainKey, ChainedEvent, GENESIS};
use clawvault_store::{AuditBatch, AuditFilter, Change, Result, SecretEvent};

use crate::backend;
use crate::chain;
use crate::rows::{self, get, hash32};

/// Bytes of event data per INSERT at most. sqlx leaves Nagle's algorithm on: a message larger
/// than the socket's send buffer (16 KiB until the kernel grows it) goes out in two writes, and
/// the second waits for the first's delayed ACK, 40 ms. Statements that fit in one write never
/// wait.
pub(crate) const INSERT_BYTES: usize = 8 * 1024;

/// Leaves `batch`'s events in the chain's inbox and records its changes and secret events, in
/// the caller's transaction (which holds `change_head`'s lock when it has changes or secret
/// events: see `writer`).
pub(crate) async fn append(conn: &mut PgConnection, batch: &OwnedAudit) -> Result<()> {
    chain::leave(conn, &batch.key, &batch.events, INSERT_BYTES).await?;
    crate::changes::record(conn, &batch.changes).await?;
    crate::secret_events::record(conn, &batch.secret_events).await
}

/// An [`AuditBatch`] owned, so that it can travel to the writer.
#[derive(Debug, Clone)]
pub(crate) struct OwnedAudit {
    key: ChainKey,
    events: Vec<AuditEvent>,
    changes: Vec<Change>,
    secret_events: Vec<SecretEvent>,
}

impl OwnedAudit {
    /// Adds another batch's events after these (one chain key per server).
    pub(crate) fn extend(&mut self, other: OwnedAudit) {
        self.events.extend(other.events);
        self.changes.extend(other.changes);
        self.secret_events.extend(other.secret_events);
    }

    pub(crate) fn key(&self) -> &ChainKey {
        &self.key
    }

    /// Events only (no changes, no secret events): they need no lock another server takes.
    pub(crate) fn events_only(&self) -> bool {
        self.changes.is_empty() && self.secret_events.is_empty() && !self.events.is_empty()
    }

    /// Leaves the events alone ([`OwnedAudit::events_only`]): one statement of their own,
    /// outside any transaction, or, when they need more than one, the statements in a
    /// transaction of their own (all or none is durable).
    pub(crate) async fn leave(&self, conn: &mut PgConnection) -> Result<()> {
        let one = self.events.len() == 1 || self.events.iter().map(chain::size).sum::<usize>() <= INSERT_BYTES;
        if one {
            return chain::leave(conn, &self.key, &self.events, INSERT_BYTES).await;
        }
        sql::raw_sql("BEGIN").execute(&mut *conn).await.map_err(backend)?;
        let left = chain::leave(conn, &self.key, &self.events, INSERT_BYTES).await;
        let end = if left.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = sql::raw_sql(end).execute(&mut *conn).await.map(|_| ()).map_err(backend);
        left.and(ended)
    }
}

impl From<AuditBatch<'_>> for OwnedAudit {
    fn from(b: AuditBatch<'_>) -> Self {
        Self {
            key: b.key.clone(),
            events: b.events.to_vec(),
            changes: b.changes.to_vec(),
            secret_events: b.secret_events.to_vec(),
        }
    }
}

/// The chain's head as a round found it: the number and hash of the newest event (0 and
/// [`GENESIS`] before the first).
pub(crate) type Head = (i64, [u8; 32]);

pub(crate) fn head_of(row: &sql::PgRow) -> Result<Head> {
    let seq: i64 = get(row, "seq")?;
    let hash: Vec<u8> = get(row, "hash")?;
    Ok((seq, if seq == 0 { GENESIS } else { hash32(&hash, "audit head hash")? }))
}

pub(crate) async fn head(pool: &PgPool) -> Result<Option<ChainHead>> {
    let row = sql::query("SELECT seq, hash, mac FROM audit_head WHERE id = 1 AND seq > 0")
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.map(|r| {
        let hash: Vec<u8> = get(&r, "hash")?;
        let mac: Vec<u8> = get(&r, "mac")?;
        Ok(ChainHead {
            seq: get(&r, "seq")?,
            hash: hash32(&hash, "audit head hash")?,
            mac: hash32(&mac, "audit head mac")?,
        })
    })
    .transpose()
}

/// Events matching `f`, and the number of all matching events.
///
/// Both statements are planned at each call (not kept prepared): a plan cached while the audit
/// tables were small joins by scanning them, which takes minutes once they have grown, and
/// nothing tells PostgreSQL to plan again until the tables are next analysed.
pub(crate) async fn list(pool: &PgPool, f: &AuditFilter) -> Result<(Vec<ChainedEvent>, u64)> {
    let mark: i64 =
        sql::query_scalar("SELECT seq FROM audit_indexed WHERE id = 1").fetch_one(pool).await.map_err(backend)?;
    let filtered =
        f.action.is_some() || f.actor_id.is_some() || f.resource_id.is_some() || f.from.is_some() || f.to.is_some();
    let total: i64 = if filtered {
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM ");
        crate::audit_index::source(&mut count, f, mark);
        count.build_query_scalar().persistent(false).fetch_one(pool).await.map_err(backend)?
    } else {
        // Sequence numbers are gap-free, so the newest is the count (no full scan).
        sql::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_events").fetch_one(pool).await.map_err(backend)?
    };
    let mut q = QueryBuilder::<Postgres>::new(format!("SELECT {} FROM ", rows::event_columns()));
    crate::audit_index::source(&mut q, f, mark);
    q.push(if f.newest_first { " ORDER BY seq DESC LIMIT " } else { " ORDER BY seq LIMIT " })
        .push_bind(i64::from(f.limit))
        .push(" OFFSET ")
        .push_bind(i64::try_from(f.offset).unwrap_or(i64::MAX));
    let found = q.build().persistent(false).fetch_all(pool).await.map_err(backend)?;
    Ok((rows::all(&found, rows::chained_event)?, u64::try_from(total).unwrap_or(0)))
}

pub(crate) async fn after(pool: &PgPool, after_seq: i64, limit: u32) -> Result<Vec<ChainedEvent>> {
    let found = sql::dynamic(format!(
        "SELECT {} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
        rows::event_columns()
    ))
    .bind(after_seq)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows::all(&found, rows::chained_event)
}

#[cfg(test)]
mod tests {
    use clawvault_core::audit::{AuditEvent, Outcome};

    #[test]
    fn inserts_stay_small() {
        let event = |details: usize| AuditEvent {
            id: uuid::Uuid::now_v7(),
            created_at: clawvault_core::time_util::now(),
            action: "secret.read".into(),
            outcome: Outcome::Success,
            actor_type: "user".into(),
            actor_id: "u".into(),
            resource_type: "secret".into(),
            resource_id: "v/p".into(),
            vault_id: None,
            ip_address: None,
            details: "x".repeat(details),
        };
        let events: Vec<AuditEvent> = (0..300).map(|i| event(if i == 7 { 100_000 } else { 300 })).collect();
        let parts = crate::chain::chunks(&events, super::INSERT_BYTES);
        assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), 300, "every event, once, in order");
        assert!(parts.len() > 3);
        assert!(parts.iter().any(|p| p.len() == 1 && p[0].details.len() == 100_000), "a big one alone");
        for p in parts.iter().filter(|p| p.len() > 1) {
            let bytes: usize = p.iter().map(|e| e.details.len() + 200).sum();
            assert!(bytes <= super::INSERT_BYTES + 1024, "{bytes}");
        }
    }
}
