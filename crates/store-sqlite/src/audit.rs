//! Appending to the audit chain inside a write transaction.

use clawvault_core::audit::{AuditEvent, ChainHead, ChainKey, GENESIS};
use clawvault_core::time_util::now;
use clawvault_store::{AuditBatch, Result, SecretEvent};
use rusqlite::{Connection, OptionalExtension, params};

use crate::backend;
use crate::convert::{hash32, micros};

/// An [`AuditBatch`] owned, so that it can travel to the writer thread.
#[derive(Debug, Clone)]
pub(crate) struct OwnedAudit {
    key: ChainKey,
    events: Vec<AuditEvent>,
    secret_events: Vec<SecretEvent>,
}

impl From<AuditBatch<'_>> for OwnedAudit {
    fn from(b: AuditBatch<'_>) -> Self {
        Self { key: b.key.clone(), events: b.events.to_vec(), secret_events: b.secret_events.to_vec() }
    }
}

impl OwnedAudit {
    /// All events of several batches, in order, under the first batch's key (there is one
    /// chain key per server).
    pub(crate) fn merge(batches: Vec<OwnedAudit>) -> Option<OwnedAudit> {
        let mut it = batches.into_iter();
        let mut first = it.next()?;
        for b in it {
            first.events.extend(b.events);
            first.secret_events.extend(b.secret_events);
        }
        Some(first)
    }
}

pub(crate) fn head(conn: &Connection) -> Result<Option<ChainHead>> {
    let raw: Option<(i64, Vec<u8>, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, hash, mac FROM audit_head WHERE id = 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
        .map_err(backend)?;
    raw.map(|(seq, hash, mac)| {
        Ok(ChainHead { seq, hash: hash32(&hash, "audit head hash")?, mac: hash32(&mac, "audit head mac")? })
    })
    .transpose()
}

impl OwnedAudit {
    /// Links the events after the current head, inserts them and advances the head. Runs inside
    /// the caller's write transaction, so any number of writers produce one chain.
    pub(crate) fn append(self, conn: &Connection) -> Result<()> {
        crate::secret_events::record(conn, &self.secret_events, now())?;
        if self.events.is_empty() {
            return Ok(());
        }
        let (seq, hash) = head(conn)?.map_or((0, GENESIS), |h| (h.seq, h.hash));
        let chained = self.key.append(seq, hash, self.events);
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO audit_events (seq, id, created_at, action, outcome, actor_type, actor_id, \
                 resource_type, resource_id, vault_id, ip_address, details, prev_hash, hash) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .map_err(backend)?;
        for c in &chained {
            let e = &c.event;
            insert
                .execute(params![
                    c.seq,
                    e.id,
                    micros(e.created_at),
                    e.action,
                    e.outcome.as_str(),
                    e.actor_type,
                    e.actor_id,
                    e.resource_type,
                    e.resource_id,
                    e.vault_id,
                    e.ip_address,
                    e.details,
                    &c.prev_hash[..],
                    &c.hash[..],
                ])
                .map_err(backend)?;
        }
        if let Some(last) = chained.last() {
            let head = self.key.head(last.seq, last.hash);
            conn.prepare_cached(
                "INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, ?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac",
            )
            .and_then(|mut s| s.execute(params![head.seq, &head.hash[..], &head.mac[..]]))
            .map_err(backend)?;
        }
        Ok(())
    }
}
