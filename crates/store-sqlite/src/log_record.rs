//! One audit event as a record of the audit log: the chained event as JSON (readable with
//! any tool when a trail is examined by hand), and on the last record of a batch, whether that
//! batch's writes commit with the database (see `trail`). No head MAC is kept per batch: each
//! would be a valid point to cut the chain back to; the MAC'd head lives in the database's index
//! (and in the anchors an operator keeps).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use clawvault_core::audit::{AuditEvent, ChainedEvent};
use clawvault_store::{Result, StoreError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::convert::{micros, stored};

#[derive(Serialize, Deserialize)]
struct Record<'a> {
    id: Uuid,
    at: i64,
    #[serde(borrow)]
    action: Cow<'a, str>,
    outcome: Cow<'a, str>,
    actor_type: Cow<'a, str>,
    actor_id: Cow<'a, str>,
    resource_type: Cow<'a, str>,
    resource_id: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vault_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<Cow<'a, str>>,
    details: Cow<'a, str>,
    prev: String,
    hash: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    end: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    commits: bool,
}

/// What the last record of a batch carries besides its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct BatchEnd {
    /// The batch held writes, committed with the database after the log (`audit_applied`).
    pub(crate) commits: bool,
}

/// The record of `c`; `end` on the last record of a batch.
pub(crate) fn encode(c: &ChainedEvent, end: Option<BatchEnd>) -> Vec<u8> {
    let e = &c.event;
    let record = Record {
        id: e.id,
        at: micros(e.created_at),
        action: Cow::Borrowed(&e.action),
        outcome: Cow::Borrowed(e.outcome.as_str()),
        actor_type: Cow::Borrowed(&e.actor_type),
        actor_id: Cow::Borrowed(&e.actor_id),
        resource_type: Cow::Borrowed(&e.resource_type),
        resource_id: Cow::Borrowed(&e.resource_id),
        vault_id: e.vault_id,
        ip: e.ip_address.as_deref().map(Cow::Borrowed),
        details: Cow::Borrowed(&e.details),
        prev: B64.encode(c.prev_hash),
        hash: B64.encode(c.hash),
        end: end.is_some(),
        commits: end.is_some_and(|b| b.commits),
    };
    // Serialising strings and numbers into a Vec cannot fail.
    serde_json::to_vec(&record).unwrap_or_default()
}

fn hash(text: &str, seq: u64, what: &str) -> Result<[u8; 32]> {
    B64.decode(text)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("audit log record {seq}: {what} is not a 32-byte hash")))
}

/// The event of record `seq`, and what it carries if it ends a batch.
pub(crate) fn decode(seq: u64, bytes: &[u8]) -> Result<(ChainedEvent, Option<BatchEnd>)> {
    let r: Record<'_> = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("audit log record {seq} does not read as an event: {e}")))?;
    let seq_i =
        i64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("audit log record {seq}: number too large")))?;
    let end = r.end.then_some(BatchEnd { commits: r.commits });
    let (outcome, created_at, readable) = stored(&r.outcome, r.at);
    let mut event = ChainedEvent {
        seq: seq_i,
        event: AuditEvent {
            id: r.id,
            created_at,
            action: r.action.into_owned(),
            outcome,
            actor_type: r.actor_type.into_owned(),
            actor_id: r.actor_id.into_owned(),
            resource_type: r.resource_type.into_owned(),
            resource_id: r.resource_id.into_owned(),
            vault_id: r.vault_id,
            ip_address: r.ip.map(Cow::into_owned),
            details: r.details.into_owned(),
        },
        prev_hash: hash(&r.prev, seq, "prev")?,
        hash: hash(&r.hash, seq, "hash")?,
    };
    if !readable {
        event.mark_unreadable();
    }
    Ok((event, end))
}
