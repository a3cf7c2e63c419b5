//! The audit trail: listing events and verifying the chain (admins).

use clawvault_core::audit::{ChainedEvent, Report};
use clawvault_core::scope::Scope;
use clawvault_store::AuditFilter;

use super::access;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::verify::verify_chain;

/// Events matching `filter`, oldest first, and how many match in all.
///
/// # Errors
/// 403 for everyone but admins.
pub async fn list(state: &AppState, caller: &Caller, filter: &AuditFilter) -> ApiResult<(Vec<ChainedEvent>, u64)> {
    access::require_scope(caller, Scope::AuditRead)?;
    access::require_admin(caller, "read the audit trail")?;
    Ok(state.store.list_audit(filter).await?)
}

/// Verifies the chain from its first event (up to `limit` events); `true` when it got to the end.
///
/// # Errors
/// 403 for everyone but admins.
pub async fn verify(state: &AppState, caller: &Caller, limit: Option<u64>) -> ApiResult<(Report, bool)> {
    access::require_scope(caller, Scope::AuditRead)?;
    access::require_admin(caller, "verify the audit trail")?;
    Ok(verify_chain(state.store.as_ref(), &state.chain_key, limit).await?)
}
