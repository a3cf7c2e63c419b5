//! The pump of secret events: follows what the store has committed (woken by every applied
//! change, local or another server's, and by a slow tick in case a wake-up was missed) and
//! publishes each new event once on [`crate::feed::SecretEventFeed`], so that a thousand
//! streams cost one store read per change, not a thousand. It also prunes events older than
//! the configured window.

use std::sync::Weak;
use std::time::Duration;

use clawvault_core::time_util::now;
use clawvault_store::Change;
use tokio::sync::broadcast::error::RecvError;

use crate::state::{AppState, Inner};

/// Events read from the store per query.
const PAGE: u32 = 1000;
/// Reads done even without a wake-up.
const TICK: Duration = Duration::from_secs(2);
/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Publishes events committed after `cursor`; returns the new cursor.
async fn pump(state: &Inner, mut cursor: i64) -> i64 {
    loop {
        match state.store.secret_events_after(cursor, PAGE).await {
            Ok(page) => {
                let n = page.events.len();
                for event in page.events {
                    cursor = event.seq;
                    state.secret_events.publish(event);
                }
                if n < PAGE as usize {
                    return cursor;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading secret events failed; retrying on the next change");
                return cursor;
            }
        }
    }
}

/// Starts the pump at the newest event committed so far. Ends with the server.
///
/// # Errors
/// The store cannot say where events stand.
pub async fn spawn(state: &AppState) -> clawvault_store::Result<()> {
    let mut cursor = state.store.secret_event_head().await?;
    let mut changes = state.changes.subscribe();
    let weak: Weak<Inner> = state.downgrade();
    let retention = Duration::from_secs(state.config.events_retention_seconds);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        let mut prune = tokio::time::interval(PRUNE_EVERY);
        loop {
            let wake = tokio::select! {
                got = changes.recv() => match got {
                    Ok(Change::Secret { .. } | Change::Vault(_)) | Err(RecvError::Lagged(_)) => true,
                    Ok(_) => false,
                    Err(RecvError::Closed) => return,
                },
                _ = tick.tick() => true,
                _ = prune.tick() => {
                    let Some(state) = weak.upgrade() else { return };
                    let before = now() - retention;
                    if let Err(e) = state.store.prune_secret_events(before).await {
                        tracing::warn!(error = %e, "pruning old secret events failed");
                    }
                    false
                }
            };
            if wake {
                let Some(state) = weak.upgrade() else { return };
                cursor = pump(&state, cursor).await;
            }
        }
    });
    Ok(())
}
