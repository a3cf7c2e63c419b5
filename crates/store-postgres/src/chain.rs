//! The audit chain on PostgreSQL, built behind the appends. A server's batch of events goes
//! into `audit_inbox` in one INSERT ([`leave`]), each event sealed with the chain key, and is
//! durable once that commits: no server waits for another, so replicas append side by side
//! (when every batch of every server took the chain head's row lock through its commit, three
//! replicas served a fifth of what one did). Every server then tries, every [`EVERY`], to move
//! what the inbox holds into `audit_events` ([`round`]): the one that takes the head's row lock
//! links the events after the head in the order of `pos`, inserts them, deletes them from the
//! inbox and moves the head, in one transaction; the others skip the round. Queries chain what
//! was left before they began first ([`Chain::all`]), so an event is in the chain before anyone
//! can ask for it.
//!
//! Order: an event committed to the inbox before another was left (a read answered before a
//! later write began) has a lower `pos`, and a round that sees the later one sees it too, so the
//! chain never puts an answered event after one that started later. A row without a valid
//! seal (written into the database by anything but a server), or that does not even decode, is
//! never chained: the round deletes it and leaves one `audit.event_refused` event naming the
//! rows it refused (however many) to be chained next.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clawvault_core::action::Action;
use clawvault_core::audit::{AuditEvent, ChainKey, Outcome};
use clawvault_core::time_util::now;
use clawvault_store::Result;
use uuid::Uuid;

use crate::audit::{Head, head_of};
use crate::backend;
use crate::rows::{self, get};
use crate::sql::{self, PgConnection, PgPool, PgRow, Postgres, QueryBuilder};

/// How often each server looks for events to chain.
const EVERY: Duration = Duration::from_millis(10);
/// Events per round at most. What a round sends back is 48 bytes an event (its position and
/// hash), so a round's statement stays under the 16 KiB that goes out in one TCP write (see
/// `audit::INSERT_BYTES`): the head's lock is never held across a delayed ACK.
pub(crate) const ROUND: i64 = 256;

/// The columns an event is left with, in the order [`push_sealed`] binds them.
const INBOX_COLUMNS: &str = "id, created_at, action, outcome, actor_type, actor_id, resource_type, resource_id, \
                             vault_id, ip_address, details, mac";

/// Whether a round waits for another server's round to end, or leaves the work to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    Wait,
    Skip,
}

/// The chain's key as this server knows it (from the server at start, or from the first batch
/// it appends), shared by its writer, its chaining task and its queries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chain {
    key: Arc<OnceLock<ChainKey>>,
}

impl Chain {
    /// Takes the key, unless one is known already (there is one per server).
    pub(crate) fn know(&self, key: &ChainKey) {
        let _ = self.key.get_or_init(|| key.clone());
    }

    /// Chains everything left in the inbox so far, by any server (waiting for a round another
    /// server is in), so that an event left before this call is in `audit_events` after it.
    /// Without the key nothing can be chained, and the chain is read as it stands.
    ///
    /// # Errors
    /// Database failures.
    pub(crate) async fn all(&self, pool: &PgPool) -> Result<()> {
        let Some(key) = self.key.get() else { return Ok(()) };
        // Events left before this call are committed, so this sees them (or sees them still
        // there because a round is moving them, and then waits for that round's lock). Only
        // they are waited for: under load the inbox is never empty.
        let newest: Option<i64> =
            sql::query_scalar("SELECT MAX(pos) FROM audit_inbox").fetch_one(pool).await.map_err(backend)?;
        let Some(mut upto) = newest else { return Ok(()) };
        loop {
            let done = round(pool, key, Turn::Wait, upto).await?;
            // A refusal is left behind what was there: it is waited for too.
            upto = upto.max(done.refusals_upto.unwrap_or(0));
            if !done.more() {
                return Ok(());
            }
        }
    }

    /// Keeps the chain caught up until the pool closes.
    pub(crate) fn spawn(&self, pool: PgPool) {
        let key = Arc::clone(&self.key);
        tokio::spawn(async move {
            while !pool.is_closed() {
                tokio::time::sleep(EVERY).await;
                let Some(key) = key.get() else { continue };
                let mut moved = Ok(Round { taken: ROUND, refusals_upto: None });
                while let Ok(true) = moved.as_ref().map(Round::more) {
                    moved = round(&pool, key, Turn::Skip, i64::MAX).await;
                }
                if let Err(e) = moved
                    && !pool.is_closed()
                {
                    tracing::warn!(error = %e, "chaining audit events failed; they stay in audit_inbox and are chained later");
                }
            }
        });
    }
}

/// About how many bytes an event takes in an INSERT.
pub(crate) fn size(e: &AuditEvent) -> usize {
    160 + e.action.len()
        + e.actor_type.len()
        + e.actor_id.len()
        + e.resource_type.len()
        + e.resource_id.len()
        + e.details.len()
        + e.ip_address.as_ref().map_or(0, String::len)
}

/// Splits events into INSERTs that stay under `max_bytes` (a larger event goes alone).
pub(crate) fn chunks(events: &[AuditEvent], max_bytes: usize) -> Vec<&[AuditEvent]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, e) in events.iter().enumerate() {
        let size = size(e);
        if i > start && bytes + size > max_bytes {
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

/// Leaves `events` in the inbox, sealed, in the order given, on `conn` (one INSERT per chunk
/// of at most `max_bytes`; the caller's transaction, if any, makes them one).
///
/// # Errors
/// Database failures (text with NUL characters is [`clawvault_store::StoreError::Unstorable`]).
pub(crate) async fn leave(
    conn: &mut PgConnection,
    key: &ChainKey,
    events: &[AuditEvent],
    max_bytes: usize,
) -> Result<()> {
    for chunk in chunks(events, max_bytes) {
        let mut q = QueryBuilder::<Postgres>::new("");
        q.push(format!("INSERT INTO audit_inbox ({INBOX_COLUMNS}) "));
        push_sealed(&mut q, key, chunk);
        q.build().execute(&mut *conn).await.map_err(backend)?;
    }
    Ok(())
}

fn push_sealed(q: &mut QueryBuilder<Postgres>, key: &ChainKey, events: &[AuditEvent]) {
    q.push_values(events.iter(), |mut b, e| {
        b.push_bind(e.id)
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
            .push_bind(key.seal(e).to_vec());
    });
}

/// An inbox row's event if its seal opens (`None` if it does not, or if the row does not
/// even decode, an outcome or time no server writes included: a refused row must not stop the
/// chain).
fn left(row: &PgRow, key: &ChainKey) -> Option<AuditEvent> {
    let event = rows::audit_event(row).ok()?;
    let mac: Vec<u8> = get(row, "mac").ok()?;
    key.opens(&event, &mac).then_some(event)
}

/// Refused rows' event ids named in one refusal at most.
const NAMED: usize = 16;

/// The one event chained for the rows a round refused (`(pos, event id)`, in order): however
/// many a flood of forged rows brings, a round records one event.
fn refusal(refused: &[(i64, Uuid)]) -> AuditEvent {
    let ids: Vec<String> = refused.iter().take(NAMED).map(|(_, id)| format!("\"{id}\"")).collect();
    let (first, last) = (refused.first().map_or(0, |r| r.0), refused.last().map_or(0, |r| r.0));
    AuditEvent {
        id: Uuid::now_v7(),
        created_at: now(),
        action: Action::AuditEventRefused.as_str().to_owned(),
        outcome: Outcome::Failure,
        actor_type: "system".to_owned(),
        actor_id: String::new(),
        resource_type: Action::AuditEventRefused.resource_type().to_owned(),
        resource_id: refused.first().map(|r| r.1.to_string()).unwrap_or_default(),
        vault_id: None,
        ip_address: None,
        details: format!(
            r#"{{"reason":"not sealed with the chain key","refused":{},"first_pos":{first},"last_pos":{last},"event_ids":[{}]}}"#,
            refused.len(),
            ids.join(",")
        ),
    }
}

/// What a round did.
struct Round {
    /// Inbox rows taken.
    taken: i64,
    /// Where the refusal this round left in the inbox is, if it refused rows (the next round
    /// chains it).
    refusals_upto: Option<i64>,
}

impl Round {
    /// Whether the inbox may hold more for the caller: a full round, or a refusal left behind.
    fn more(&self) -> bool {
        self.taken == ROUND || self.refusals_upto.is_some()
    }
}

/// Moves up to [`ROUND`] events, of those at or before `upto` in the inbox, into the chain,
/// if this server gets the head's lock (with [`Turn::Skip`], only if no other server holds it).
async fn round(pool: &PgPool, key: &ChainKey, turn: Turn, upto: i64) -> Result<Round> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let lock = match turn {
        Turn::Wait => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        Turn::Skip => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE SKIP LOCKED",
    };
    let none = Round { taken: 0, refusals_upto: None };
    let Some(row) = sql::query(lock).fetch_optional(&mut *tx).await.map_err(backend)? else {
        // Skipped: another server holds it. Waited for and absent: the head row is gone.
        return match turn {
            Turn::Skip => Ok(none),
            Turn::Wait => Err(clawvault_store::StoreError::Corrupt(
                "the audit trail has events but no chain head (the row of audit_head is missing, so \
                 the events waiting to be chained cannot be): its newest events may have been removed \
                 with it. Check with `clawvault audit verify` and restore the database from a backup"
                    .into(),
            )),
        };
    };
    let head: Head = head_of(&row)?;
    // Locked, so that what is chained is what was checked (the INSERT copies the rows). A
    // time no `OffsetDateTime` can hold ('infinity') reads as NULL, which is refused.
    let rows = sql::dynamic(format!(
        "SELECT pos, {} FROM audit_inbox WHERE pos <= $2 ORDER BY pos LIMIT $1 FOR UPDATE",
        INBOX_COLUMNS.replacen("created_at", rows::EVENT_TIME, 1)
    ))
    .bind(ROUND)
    .bind(upto)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    if rows.is_empty() {
        return Ok(none);
    }
    let taken = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let (mut positions, mut events, mut refused) = (Vec::new(), Vec::new(), Vec::new());
    for row in &rows {
        let pos: i64 = get(row, "pos")?;
        match left(row, key) {
            Some(event) => {
                positions.push(pos);
                events.push(event);
            }
            None => refused.push((pos, get(row, "id").unwrap_or(Uuid::nil()))),
        }
    }
    let mut refusals_upto = None;
    if let (Some(first), Some(last)) = (refused.first(), refused.last()) {
        tracing::error!(
            refused = refused.len(),
            first_pos = first.0,
            last_pos = last.0,
            first_event_id = %first.1,
            "audit events in audit_inbox are not sealed with the chain key (written by something other than a \
             clawvault server): refused, and recorded as audit.event_refused"
        );
        let drop: Vec<i64> = refused.iter().map(|(pos, _)| *pos).collect();
        sql::query("DELETE FROM audit_inbox WHERE pos = ANY($1)")
            .bind(drop)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        // It enters the inbox in this transaction, behind what is there: the next round
        // chains it.
        leave(&mut tx, key, &[refusal(&refused)], crate::audit::INSERT_BYTES).await?;
        refusals_upto =
            sql::query_scalar("SELECT MAX(pos) FROM audit_inbox").fetch_one(&mut *tx).await.map_err(backend)?;
    }
    if !events.is_empty() {
        link(&mut tx, key, head, positions, events).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(Round { taken, refusals_upto })
}

/// Chains the inbox rows at `positions` (holding `events`, in that order) after `head`: in one
/// statement they leave the inbox, enter `audit_events` with their numbers and hashes, and the
/// head moves to the last of them.
async fn link(
    conn: &mut PgConnection,
    key: &ChainKey,
    head: Head,
    positions: Vec<i64>,
    events: Vec<AuditEvent>,
) -> Result<()> {
    let n = events.len();
    let chained = key.append(head.0, head.1, events);
    let Some(last) = chained.last() else { return Ok(()) };
    let moved = key.head(last.seq, last.hash);
    let hashes: Vec<Vec<u8>> = chained.iter().map(|c| c.hash.to_vec()).collect();
    // The previous hash of each event is the hash before it: sent once, for the first.
    let written: i64 = sql::query_scalar(
        "WITH links AS (SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[]) WITH ORDINALITY AS l(pos, hash, ord)), \
         moved AS (DELETE FROM audit_inbox WHERE pos = ANY($1) RETURNING *), \
         written AS (INSERT INTO audit_events (seq, id, created_at, action, outcome, actor_type, actor_id, \
             resource_type, resource_id, vault_id, ip_address, details, prev_hash, hash) \
           SELECT $3 + l.ord, m.id, m.created_at, m.action, m.outcome, m.actor_type, m.actor_id, m.resource_type, \
             m.resource_id, m.vault_id, m.ip_address, m.details, \
             COALESCE(lag(l.hash) OVER (ORDER BY l.ord), $4), l.hash \
           FROM links l JOIN moved m ON m.pos = l.pos RETURNING 1), \
         head AS (UPDATE audit_head SET seq = $5, hash = $6, mac = $7 WHERE id = 1) \
         SELECT COUNT(*) FROM written",
    )
    .bind(positions)
    .bind(hashes)
    .bind(head.0)
    .bind(head.1.to_vec())
    .bind(moved.seq)
    .bind(moved.hash.to_vec())
    .bind(moved.mac.to_vec())
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)?;
    if usize::try_from(written).ok() != Some(n) {
        // Rows read a moment ago are gone: something besides the servers deletes from the
        // inbox. Nothing of this round is kept (the caller's transaction is rolled back).
        return Err(clawvault_store::StoreError::Corrupt(format!(
            "audit_inbox changed while its events were being chained ({written} of {n} found): \
             something other than clawvault writes to it"
        )));
    }
    Ok(())
}
