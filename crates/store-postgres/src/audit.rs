//! The audit chain on PostgreSQL: appends inside a write's transaction under the head row's
//! lock, a per-server batcher for events written on their own, and the queries.

use crate::sql;
use crate::sql::{PgConnection, PgPool, Postgres, QueryBuilder};
use clawvault_core::audit::{AuditEvent, ChainHead, ChainKey, ChainedEvent, GENESIS};
use clawvault_store::{AuditBatch, AuditFilter, Change, Result, SecretEvent};

use crate::backend;
use crate::rows::{self, get, hash32};

/// Largest number of events in one INSERT (14 parameters each, PostgreSQL allows 65,535).
const INSERT_CHUNK: usize = 1000;
/// Bytes of event data per INSERT at most. sqlx leaves Nagle's algorithm on: a message larger
/// than the socket's send buffer (16 KiB until the kernel grows it) goes out in two writes, and
/// the second waits for the first's delayed ACK, 40 ms, with the chain head locked. Statements
/// that fit in one write never wait.
const INSERT_BYTES: usize = 8 * 1024;

/// Splits events into INSERTs that stay under [`INSERT_BYTES`] and [`INSERT_CHUNK`].
fn chunks(events: &[ChainedEvent]) -> Vec<&[ChainedEvent]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, c) in events.iter().enumerate() {
        let e = &c.event;
        let size = 160
            + e.action.len()
            + e.actor_type.len()
            + e.actor_id.len()
            + e.resource_type.len()
            + e.resource_id.len()
            + e.details.len()
            + e.ip_address.as_ref().map_or(0, String::len);
        if i > start && (bytes + size > INSERT_BYTES || i - start >= INSERT_CHUNK) {
            out.push(&events[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < events.len() {
        out.push(&events[start..]);
    }
    out
}

/// Links `batch` after the current head, inserts it and advances the head, in the caller's
/// transaction. The head row stays locked until that transaction ends, which is what puts
/// every server's events in one order.
pub(crate) async fn append(conn: &mut PgConnection, batch: &OwnedAudit) -> Result<()> {
    append_events(conn, &batch.key, batch.events.clone()).await?;
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

async fn append_events(conn: &mut PgConnection, key: &ChainKey, events: Vec<AuditEvent>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let row = sql::query("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)?;
    let seq: i64 = get(&row, "seq")?;
    let hash: Vec<u8> = get(&row, "hash")?;
    let prev = if seq == 0 { GENESIS } else { hash32(&hash, "audit head hash")? };
    let chained = key.append(seq, prev, events);
    let Some(last) = chained.last() else { return Ok(()) };
    let head = key.head(last.seq, last.hash);
    let chunks = chunks(&chained);
    for (i, chunk) in chunks.iter().enumerate() {
        // The last chunk moves the head in the same statement.
        let is_last = i + 1 == chunks.len();
        let mut q = QueryBuilder::<Postgres>::new(if is_last { "WITH written AS (" } else { "" });
        q.push(
            "INSERT INTO audit_events (seq, id, created_at, action, outcome, actor_type, actor_id, resource_type, \
             resource_id, vault_id, ip_address, details, prev_hash, hash) ",
        );
        q.push_values(chunk.iter(), |mut b, c| {
            let e = &c.event;
            b.push_bind(c.seq)
                .push_bind(e.id)
                .push_bind(e.created_at)
                .push_bind(e.action.clone())
                .push_bind(e.outcome.as_str())
                .push_bind(e.actor_type.clone())
                .push_bind(e.actor_id.clone())
                .push_bind(e.resource_type.clone())
                .push_bind(e.resource_id.clone())
                .push_bind(e.vault_id)
                .push_bind(e.ip_address.clone())
                .push_bind(e.details.clone())
                .push_bind(c.prev_hash.to_vec())
                .push_bind(c.hash.to_vec());
        });
        if is_last {
            q.push(") UPDATE audit_head SET seq = ")
                .push_bind(head.seq)
                .push(", hash = ")
                .push_bind(head.hash.to_vec())
                .push(", mac = ")
                .push_bind(head.mac.to_vec())
                .push(" WHERE id = 1");
        }
        q.build().execute(&mut *conn).await.map_err(backend)?;
    }
    Ok(())
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
pub(crate) async fn list(pool: &PgPool, f: &AuditFilter) -> Result<(Vec<ChainedEvent>, u64)> {
    let mark: i64 =
        sql::query_scalar("SELECT seq FROM audit_indexed WHERE id = 1").fetch_one(pool).await.map_err(backend)?;
    let filtered =
        f.action.is_some() || f.actor_id.is_some() || f.resource_id.is_some() || f.from.is_some() || f.to.is_some();
    let total: i64 = if filtered {
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM ");
        crate::audit_index::source(&mut count, f, mark);
        count.build_query_scalar().fetch_one(pool).await.map_err(backend)?
    } else {
        // Sequence numbers are gap-free, so the newest is the count (no full scan).
        sql::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_events").fetch_one(pool).await.map_err(backend)?
    };
    let mut q = QueryBuilder::<Postgres>::new("SELECT * FROM ");
    crate::audit_index::source(&mut q, f, mark);
    q.push(if f.newest_first { " ORDER BY seq DESC LIMIT " } else { " ORDER BY seq LIMIT " })
        .push_bind(i64::from(f.limit))
        .push(" OFFSET ")
        .push_bind(i64::try_from(f.offset).unwrap_or(i64::MAX));
    let found = q.build().fetch_all(pool).await.map_err(backend)?;
    Ok((rows::all(&found, rows::chained_event)?, u64::try_from(total).unwrap_or(0)))
}

pub(crate) async fn after(pool: &PgPool, after_seq: i64, limit: u32) -> Result<Vec<ChainedEvent>> {
    let found = sql::query("SELECT * FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows::all(&found, rows::chained_event)
}

#[cfg(test)]
mod tests {
    use clawvault_core::audit::{AuditEvent, ChainKey, Outcome};
    use clawvault_core::keyring::SubKey;

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
        let key = ChainKey::new(SubKey::from_bytes([1; 32]));
        let chained = key.append(0, [0; 32], (0..300).map(|i| event(if i == 7 { 100_000 } else { 300 })).collect());
        let parts = super::chunks(&chained);
        assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), 300, "every event, once, in order");
        assert!(parts.len() > 3);
        assert!(parts.iter().any(|p| p.len() == 1 && p[0].event.details.len() == 100_000), "a big one alone");
        for p in parts.iter().filter(|p| p.len() > 1) {
            let bytes: usize = p.iter().map(|c| c.event.details.len() + 200).sum();
            assert!(bytes <= super::INSERT_BYTES + 1024, "{bytes}");
        }
    }
}
