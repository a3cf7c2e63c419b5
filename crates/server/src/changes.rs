//! One way to apply a change to what this server keeps in memory (opened vaults, cached
//! versions, verified tokens, parsed policies, signing keys), whether this server made the
//! write or another server's write arrived through the change log ([`crate::follow`]); and
//! every applied change is published on an in-process broadcast, for event streams.
//!
//! A write applies its changes only after it committed: a request that read the database
//! before the commit and caches what it read afterwards is caught by the caches' epochs,
//! which every change bumps.

use clawvault_store::Change;
use tokio::sync::broadcast;

use crate::error::{ApiError, ApiResult};
use crate::state::Inner;

/// Changes kept for a slow subscriber before it is told it lagged.
const BROADCAST_CAPACITY: usize = 1024;

/// The in-process feed of applied changes.
#[derive(Debug)]
pub struct Feed(broadcast::Sender<Change>);

impl Default for Feed {
    fn default() -> Self {
        Self(broadcast::channel(BROADCAST_CAPACITY).0)
    }
}

impl Feed {
    /// Every change applied from now on, local or from other servers, in the order applied.
    /// A subscriber that falls more than the capacity behind gets `Lagged` and should
    /// resynchronise from the store.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.0.subscribe()
    }

    fn publish(&self, change: &Change) {
        // No subscriber is not an error: nothing is listening yet.
        let _ = self.0.send(change.clone());
    }
}

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
            state.access.forget(*id);
        }
        Change::ApiKey(id) => state.tokens.kill_api_key(*id),
        Change::Policies(principal) => state.access.forget(*principal),
        Change::Token(jti) => state.tokens.revoke(jti),
        Change::ServerKeys => reload_keys(state).await?,
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

/// Applies a local write's `changes` after it committed. The write stands whatever happens
/// here, so a failure is logged, not answered: the caches it could not clear are cleared by
/// the next change or restart.
pub async fn committed(state: &Inner, changes: &[Change]) {
    if let Err(e) = apply(state, changes).await {
        tracing::error!(error = %e, "applying a committed change to this server's caches failed");
    }
}
