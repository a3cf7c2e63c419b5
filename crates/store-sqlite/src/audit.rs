//! Audit events on their way to the trail, and the index's head.

use clawvault_core::audit::{AuditEvent, ChainHead, ChainKey};
use clawvault_core::time_util::now;
use clawvault_store::{AuditBatch, Result, SecretEvent};
use rusqlite::{Connection, OptionalExtension};

use crate::backend;
use crate::convert::hash32;
use crate::writer::Tx;

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

/// The head of the index (the newest indexed batch's), as the index recorded it.
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
    /// Hands the events to the batch of `tx` (they are chained and logged when the batch
    /// commits, and dropped if this job fails) and records the secret events in it.
    pub(crate) fn append(self, tx: &Tx<'_>) -> Result<()> {
        crate::secret_events::record(tx, &self.secret_events, now())?;
        tx.audit(self);
        Ok(())
    }

    /// Whether it carries secret events (which the database records).
    pub(crate) fn has_secret_events(&self) -> bool {
        !self.secret_events.is_empty()
    }

    /// The chain key and the events, to be chained.
    pub(crate) fn into_parts(self) -> (ChainKey, Vec<AuditEvent>) {
        (self.key, self.events)
    }
}
