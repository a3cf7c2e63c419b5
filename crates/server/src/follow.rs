//! Following other servers on a shared database. What a server keeps in memory (opened vaults,
//! cached versions, verified tokens, parsed policies, signing keys) is dropped when the store's
//! change log says another server changed it. Every authenticated request first reads the log
//! past this server's position (one indexed query), so a change committed anywhere before a
//! request arrives is applied before that request is decided; `NOTIFY` only wakes idle servers
//! early. Requests that arrive together share one read of the log: each waits for a read that
//! began after it arrived. Embedded stores have no other writer and skip all of this.

use std::sync::Weak;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use clawvault_core::time_util::now;
use clawvault_store::Store;

use crate::error::ApiResult;
use crate::state::{AppState, Inner};

/// This server's position in the change log.
#[derive(Debug)]
pub struct Follower {
    applied: AtomicI64,
    shared: bool,
    /// Reads of the log begun and finished; one at a time, under `round`.
    started: AtomicU64,
    finished: AtomicU64,
    round: tokio::sync::Mutex<()>,
}

impl Follower {
    /// Starts at `position`, read before anything was loaded from the store (so nothing
    /// changed after loading goes unseen).
    pub async fn start_at(store: &dyn Store) -> Result<Self, clawvault_store::StoreError> {
        let shared = store.shared();
        let position = if shared { store.change_position().await? } else { 0 };
        Ok(Self {
            applied: AtomicI64::new(position),
            shared,
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            round: tokio::sync::Mutex::new(()),
        })
    }
}

/// Returns once every change committed before this call is applied: by a read of the log
/// that began after the call did, made by this call or by a concurrent one.
///
/// # Errors
/// Storage failures.
pub async fn catch_up(state: &Inner) -> ApiResult<()> {
    let f = &state.follower;
    if !f.shared {
        return Ok(());
    }
    let arrived = f.started.load(Ordering::Acquire);
    let _round = f.round.lock().await;
    if f.finished.load(Ordering::Acquire) > arrived {
        // A read that began after this call arrived has been applied.
        return Ok(());
    }
    let round = f.started.fetch_add(1, Ordering::AcqRel) + 1;
    read_and_apply(state).await?;
    f.finished.store(round, Ordering::Release);
    Ok(())
}

async fn read_and_apply(state: &Inner) -> ApiResult<()> {
    let from = state.follower.applied.load(Ordering::Acquire);
    let batch = state.store.changes_since(from).await?;
    if batch.position == from {
        return Ok(());
    }
    if !batch.complete {
        tracing::warn!("fell behind the change log: dropping everything kept in memory");
        forget_everything(state).await?;
    }
    crate::changes::apply(state, &batch.changes).await?;
    state.follower.applied.fetch_max(batch.position, Ordering::AcqRel);
    Ok(())
}

async fn forget_everything(state: &Inner) -> ApiResult<()> {
    state.forget_vaults();
    state.secrets.forget_all();
    state.access.forget_all();
    state.tokens.evict_all();
    for jti in state.store.revoked_tokens(now()).await? {
        state.tokens.revoke(&jti);
    }
    crate::changes::reload_keys(state).await
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
