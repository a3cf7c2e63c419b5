//! The audit trail: listing events and verifying the chain (admins), and the record of
//! requests a surface refused before they reached a service call.

use std::sync::Weak;
use std::time::{Duration, Instant};

use clawvault_core::audit::{Anchor, AuditEvent, ChainKey, ChainedEvent, Report};
use clawvault_core::scope::Scope;
use clawvault_store::{AuditBatch, AuditFilter};

use super::access;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::op::{Asker, Op};
use crate::state::{AppState, Inner};
use crate::unauthenticated;
use crate::verify::verify_chain;
use clawvault_core::action::Action;

/// Events matching `filter`, oldest first, and how many match in all.
///
/// # Errors
/// 403 for everyone but admins.
pub async fn list(state: &AppState, caller: &Caller, filter: &AuditFilter) -> ApiResult<(Vec<ChainedEvent>, u64)> {
    let op = Op::new(state, caller, Action::AuditList);
    let result = async {
        access::require_scope(caller, Scope::AuditRead)?;
        access::require_admin(caller, "read the audit trail")?;
        Ok(state.store.list_audit(filter).await?)
    }
    .await;
    op.finish(result).await
}

/// Verifies the chain from its first event (up to `limit` events); `true` when it got to the
/// end. With an anchor (`cva1:…`, from [`anchor`]), the chain must still hold that event.
///
/// # Errors
/// 400 for an anchor that does not parse or was not made by this server; 403 for everyone but
/// admins.
pub async fn verify(
    state: &AppState,
    caller: &Caller,
    limit: Option<u64>,
    anchor: Option<&str>,
) -> ApiResult<(Report, bool)> {
    let op = Op::new(state, caller, Action::AuditVerify);
    let result = async {
        access::require_scope(caller, Scope::AuditRead)?;
        access::require_admin(caller, "verify the audit trail")?;
        let anchor = anchor.map(|a| parse_anchor(&state.chain_key, a)).transpose()?;
        Ok(verify_chain(state.store.as_ref(), &state.chain_key, limit, anchor).await?)
    }
    .await;
    op.finish(result).await
}

/// Parses an anchor and checks that this chain's key made it.
///
/// # Errors
/// 400 saying which.
pub fn parse_anchor(key: &ChainKey, text: &str) -> ApiResult<Anchor> {
    let anchor = Anchor::parse(text).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    anchor.check(key).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(anchor)
}

/// The chain's current head as an anchor, to keep somewhere the database's owner cannot
/// reach (a ticket, a commit, another machine).
///
/// # Errors
/// 403 for everyone but admins; 404 before the first event.
pub async fn anchor(state: &AppState, caller: &Caller) -> ApiResult<Anchor> {
    let op = Op::new(state, caller, Action::AuditAnchor);
    let result = async {
        access::require_scope(caller, Scope::AuditRead)?;
        access::require_admin(caller, "anchor the audit trail")?;
        let head = state.store.audit_head().await?;
        head.as_ref().map(Anchor::of).ok_or_else(|| ApiError::NotFound("the audit trail has no event yet".into()))
    }
    .await;
    op.finish(result).await
}

/// Records what reopening the audit log found and repaired, so that the trail itself says
/// so: bytes after its last whole batch (a batch being written when the server stopped, never
/// answered; or damage at the very end), a batch of writes logged but never committed, and
/// committed writes' events written back into the log from the database.
///
/// # Errors
/// Storage failures.
pub async fn record_recovery(state: &AppState, recovery: &clawvault_store_sqlite::Recovery) -> ApiResult<()> {
    if recovery.is_empty() {
        return Ok(());
    }
    let mut op = Op::system(state, Action::AuditLogRecovered);
    op.resource("audit-log");
    if let Some(t) = &recovery.torn {
        let segment = t.segment.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        tracing::warn!(segment, offset = t.offset, bytes = t.bytes, "the audit log ended in a torn batch, cut away");
        op.detail("torn_segment", segment);
        op.detail("torn_offset", t.offset);
        op.detail("torn_bytes", t.bytes);
        op.detail("continues_at", t.next_seq);
    }
    if let Some((from, to)) = recovery.uncommitted {
        tracing::warn!(from, to, "the audit log holds a batch of writes that never committed");
        op.detail("uncommitted_from", from);
        op.detail("uncommitted_to", to);
    }
    if let Some((from, to)) = recovery.restored {
        tracing::warn!(from, to, "committed writes' audit events missing from the log were written back into it");
        op.detail("restored_from", from);
        op.detail("restored_to", to);
    }
    let event = op.success();
    state.store.append_audit(AuditBatch::new(&state.chain_key, &[event])).await?;
    Ok(())
}

/// Records a request that a surface refused before any service call took it (a body or an id
/// that does not parse): malformed attempts are in the trail as much as refused ones.
/// Returns the error to answer (a 429 once an anonymous address is over its budget).
pub async fn refused(state: &AppState, asker: Asker<'_>, action: Action, resource: &str, error: ApiError) -> ApiError {
    let mut op = Op::by(state, asker, action);
    op.resource(resource.to_owned());
    op.fail(error).await
}

/// Writes the summaries of failed unauthenticated requests whose windows ended (all of them
/// with `everything`, at shutdown).
pub async fn write_summaries(state: &Inner, everything: bool) {
    let events: Vec<AuditEvent> = state
        .limits
        .unauthenticated
        .take_ended(Instant::now(), everything)
        .iter()
        .map(unauthenticated::summary_event)
        .collect();
    if events.is_empty() {
        return;
    }
    if let Err(e) = state.store.append_audit(AuditBatch::new(&state.chain_key, &events)).await {
        tracing::error!(error = %e, "the summary of failed unauthenticated requests could not be written");
    }
}

/// Writes those summaries as their windows end, until the server is gone.
pub fn spawn_summaries(state: &AppState) {
    let weak: Weak<Inner> = state.downgrade();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { return };
            write_summaries(&state, false).await;
        }
    });
}
