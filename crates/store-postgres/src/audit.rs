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

/// About how many bytes an event takes in an INSERT.
fn size(e: &AuditEvent) -> usize {
    160 + e.action.len()
        + e.actor_type.len()
        + e.actor_id.len()
        + e.resource_type.len()
        + e.resource_id.len()
        + e.details.len()
        + e.ip_address.as_ref().map_or(0, String::len)
}

/// Splits events into INSERTs that stay under [`INSERT_BYTES`] and [`INSERT_CHUNK`].
fn chunks(events: &[ChainedEvent]) -> Vec<&[ChainedEvent]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, c) in events.iter().enumerate() {
        let size = size(&c.event);
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

/// The columns of `audit_events`, in the order [`push_events`] binds them.
const EVENT_COLUMNS: &str = "seq, id, created_at, action, outcome, actor_type, actor_id, resource_type, resource_id, \
                             vault_id, ip_address, details, prev_hash, hash";

/// Pushes `VALUES (...), ...` for `events`.
fn push_events(q: &mut QueryBuilder<Postgres>, events: &[ChainedEvent]) {
    q.push_values(events.iter(), |mut b, c| {
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
}

async fn append_events(conn: &mut PgConnection, key: &ChainKey, events: Vec<AuditEvent>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let row = sql::query("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)?;
    let (seq, prev) = head_of(&row)?;
    let chained = key.append(seq, prev, events);
    let Some(last) = chained.last() else { return Ok(()) };
    let head = key.head(last.seq, last.hash);
    let chunks = chunks(&chained);
    for (i, chunk) in chunks.iter().enumerate() {
        // The last chunk moves the head in the same statement.
        let is_last = i + 1 == chunks.len();
        let mut q = QueryBuilder::<Postgres>::new(if is_last { "WITH written AS (" } else { "" });
        q.push(format!("INSERT INTO audit_events ({EVENT_COLUMNS}) "));
        push_events(&mut q, chunk);
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

/// The chain's head as a server last saw it: the number and hash of the newest event (0 and
/// [`GENESIS`] before the first).
pub(crate) type Head = (i64, [u8; 32]);

fn head_of(row: &sql::PgRow) -> Result<Head> {
    let seq: i64 = get(row, "seq")?;
    let hash: Vec<u8> = get(row, "hash")?;
    Ok((seq, if seq == 0 { GENESIS } else { hash32(&hash, "audit head hash")? }))
}

/// The head as it is now, unlocked.
pub(crate) async fn current_head(conn: &mut PgConnection) -> Result<Head> {
    let row =
        sql::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *conn).await.map_err(backend)?;
    head_of(&row)
}

/// Events only (no changes, no secret events) that fit one INSERT: what [`append_at`] takes.
pub(crate) fn fits_one_statement(batch: &OwnedAudit) -> bool {
    let one = batch.events.len() == 1;
    batch.changes.is_empty()
        && batch.secret_events.is_empty()
        && !batch.events.is_empty()
        && batch.events.len() <= INSERT_CHUNK
        && (one || batch.events.iter().map(size).sum::<usize>() <= INSERT_BYTES)
}

/// Appends `batch` ([`fits_one_statement`]) after `expected` in one statement of its own, outside
/// any transaction, if the head is still there: the head's row lock is then held for that
/// statement and its commit only, not across a transaction's round trips, which is what let
/// replicas (each batch of each one waiting for the lock) serve less together than one alone.
/// Returns the new head, or `None` when another server appended first (nothing is written
/// then).
pub(crate) async fn append_at(conn: &mut PgConnection, batch: &OwnedAudit, expected: Head) -> Result<Option<Head>> {
    let chained = batch.key.append(expected.0, expected.1, batch.events.clone());
    let Some(last) = chained.last() else { return Ok(Some(expected)) };
    let head = batch.key.head(last.seq, last.hash);
    // The head moves first and the events go in only if it did: a server whose head was stale
    // (another number, or the same number with another hash after a restore) updates no row,
    // after waiting for the one that moved it to commit, and inserts nothing.
    let mut q = QueryBuilder::<Postgres>::new("WITH moved AS (UPDATE audit_head SET seq = ");
    q.push_bind(head.seq)
        .push(", hash = ")
        .push_bind(head.hash.to_vec())
        .push(", mac = ")
        .push_bind(head.mac.to_vec())
        .push(" WHERE id = 1 AND seq = ")
        .push_bind(expected.0)
        .push(" AND hash = ")
        // Before the first event the row holds an empty hash, not the genesis value.
        .push_bind(if expected.0 == 0 { Vec::new() } else { expected.1.to_vec() })
        .push(format!(" RETURNING 1) INSERT INTO audit_events ({EVENT_COLUMNS}) SELECT * FROM ("));
    push_events(&mut q, &chained);
    q.push(") AS events WHERE EXISTS (SELECT 1 FROM moved)");
    let inserted = q.build().execute(&mut *conn).await.map_err(backend)?.rows_affected();
    Ok((inserted == chained.len() as u64).then_some((last.seq, last.hash)))
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
    let mut q = QueryBuilder::<Postgres>::new("SELECT * FROM ");
    crate::audit_index::source(&mut q, f, mark);
    q.push(if f.newest_first { " ORDER BY seq DESC LIMIT " } else { " ORDER BY seq LIMIT " })
        .push_bind(i64::from(f.limit))
        .push(" OFFSET ")
        .push_bind(i64::try_from(f.offset).unwrap_or(i64::MAX));
    let found = q.build().persistent(false).fetch_all(pool).await.map_err(backend)?;
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
