//! One way to apply a change to what this server keeps in memory (opened vaults, cached
//! versions, verified tokens, parsed policies, signing keys), whether this server made the
//! write or another server's write arrived through the change log (read here, positioned by [`crate::follow`]); and
//! every applied change is published on an in-process broadcast, for event streams.
//!
//! A write applies its changes only after it committed: a request that read the database
//! before the commit and caches what it read afterwards is caught by the caches' epochs,
//! which every change bumps.

use std::sync::Weak;

use clawvault_core::time_util::now;
use clawvault_store::Change;

use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, Inner};

/// Applies `changes`, committed by this server or another, and publishes each.
///
/// # Errors
/// Reloading signing keys failed.
pub async fn apply(state: &Inner, changes: &[Change]) -> ApiResult<()> {
    for change in changes {
        apply_one(state, change).await?;
        state.changes.publish(change);
    }
    Ok(())
}

async fn apply_one(state: &Inner, change: &Change) -> ApiResult<()> {
    match change {
        Change::Secret { vault_id, path } => state.secrets.forget(*vault_id, path),
        Change::Vault(id) => {
            state.forget_vault(*id);
            state.secrets.forget_vault(*id);
        }
        // Their next request is admitted afresh: the database says whether they still stand.
        Change::Agent(id) | Change::User(id) => {
            state.tokens.evict(*id);
            state.policies.forget(*id);
        }
        Change::ApiKey(id) => state.tokens.kill_api_key(*id),
        Change::Policies(principal) => state.policies.forget(*principal),
        Change::Token(jti) => state.tokens.revoke(jti),
        Change::ServerKeys => reload_keys(state).await?,
        Change::ProxyRoutes => reload_routes(state).await?,
    }
    Ok(())
}

/// Loads the signing keys from the store again.
///
/// # Errors
/// The keys cannot be read or unwrapped.
pub async fn reload_keys(state: &Inner) -> ApiResult<()> {
    let keys = crate::signing::load(state.store.as_ref(), state.root.as_ref())
        .await
        .map_err(|e| ApiError::Internal(format!("reloading token signing keys: {e}")))?;
    state.tokens.replace_keys(keys);
    Ok(())
}

/// Loads the proxy's routes from the store again.
///
/// # Errors
/// The routes cannot be read.
pub async fn reload_routes(state: &Inner) -> ApiResult<()> {
    let records = state.store.proxy_routes().await?;
    state.routes.load(records, |connect| {
        state.outbound.client(&crate::outbound::Reach::Public, connect).map_err(|e| e.to_string())
    });
    Ok(())
}

/// Applies a local write's `changes` after it committed. The write stands whatever happens
/// here, so a failure is logged, not answered: the caches it could not clear are cleared by
/// the next change or restart.
pub async fn committed(state: &Inner, changes: &[Change]) {
    if let Err(e) = apply(state, changes).await {
        tracing::error!(error = %e, "applying a committed change to this server's caches failed");
    }
}

/// Returns once every change committed anywhere before this call is applied here.
///
/// # Errors
/// Storage failures.
pub async fn catch_up(state: &Inner) -> ApiResult<()> {
    state.follower.catch_up(|from| read_and_apply(state, from)).await
}

async fn read_and_apply(state: &Inner, from: i64) -> ApiResult<i64> {
    let batch = state.store.changes_since(from).await?;
    if batch.position == from {
        return Ok(from);
    }
    if !batch.complete {
        tracing::warn!("fell behind the change log: dropping everything kept in memory");
        forget_everything(state).await?;
    }
    apply(state, &batch.changes).await?;
    Ok(batch.position)
}

async fn forget_everything(state: &Inner) -> ApiResult<()> {
    state.forget_vaults();
    state.secrets.forget_all();
    state.policies.forget_all();
    state.tokens.evict_all();
    for jti in state.store.revoked_tokens(now()).await? {
        state.tokens.revoke(&jti);
    }
    reload_routes(state).await?;
    reload_keys(state).await
}

/// Catches up whenever the store announces changes, so idle servers drop stale state early.
/// Ends with the server.
pub fn spawn(state: &AppState) {
    let Some(signal) = state.store.change_signal() else { return };
    let weak: Weak<Inner> = state.downgrade();
    tokio::spawn(async move {
        loop {
            signal.notified().await;
            let Some(state) = weak.upgrade() else { return };
            if let Err(e) = catch_up(&state).await {
                tracing::warn!(error = %e, "following the change log failed; the next request retries");
            }
        }
    });
}
