//! Following other servers on a shared database. What a server keeps in memory (opened vaults,
//! cached versions, verified tokens, parsed policies, signing keys) is dropped when the store's
//! change log says another server changed it. Every authenticated request first reads the log
//! past this server's position (one indexed query), so a change committed anywhere before a
//! request arrives is applied before that request is decided; `NOTIFY` only wakes idle servers
//! early. Requests that arrive together share one read of the log: each waits for a read that
//! began after it arrived. Embedded stores have no other writer and skip all of this.

use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use clawvault_store::Store;

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

    /// Returns once every change committed before this call is applied: by a read of the log
    /// that began after the call did, made by this call or by a concurrent one. `read` reads
    /// the log from the position it is given, applies what it found and returns the position
    /// it reached.
    ///
    /// # Errors
    /// Whatever `read` fails with.
    pub async fn catch_up<E, F, Fut>(&self, read: F) -> Result<(), E>
    where
        F: FnOnce(i64) -> Fut,
        Fut: Future<Output = Result<i64, E>>,
    {
        if !self.shared {
            return Ok(());
        }
        let arrived = self.started.load(Ordering::Acquire);
        let _round = self.round.lock().await;
        if self.finished.load(Ordering::Acquire) > arrived {
            // A read that began after this call arrived has been applied.
            return Ok(());
        }
        let round = self.started.fetch_add(1, Ordering::AcqRel) + 1;
        let reached = read(self.applied.load(Ordering::Acquire)).await?;
        self.applied.fetch_max(reached, Ordering::AcqRel);
        self.finished.store(round, Ordering::Release);
        Ok(())
    }
}
