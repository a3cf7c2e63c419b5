//! The audit pipeline for events that are not part of a write transaction (reads,
//! refusals): events queue here and are appended in group commits, one transaction for
//! whatever accumulated while the previous commit was being made durable. A caller's future
//! resolves only once its event is on disk, so no response leaves before its audit event.

use std::sync::Arc;

use clawvault_core::audit::{AuditEvent, ChainKey};
use clawvault_store::{AuditBatch, Store};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::ApiError;

enum Job {
    Event(Box<AuditEvent>, oneshot::Sender<bool>),
    Flush(oneshot::Sender<()>),
}

/// Handle to the audit writer task.
#[derive(Debug, Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl AuditSink {
    /// Starts the writer task.
    #[must_use]
    pub fn start(store: Arc<dyn Store>, key: ChainKey, batch_max: usize) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(batch_max.max(1) * 4);
        let handle = tokio::spawn(run(rx, store, key, batch_max.max(1)));
        (Self { tx }, handle)
    }

    /// Appends `event` and waits until it is durable.
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] when the audit log cannot be written; the caller must then not
    /// complete the request.
    pub async fn record(&self, event: AuditEvent) -> Result<(), ApiError> {
        let (done, wait) = oneshot::channel();
        let unavailable = || {
            ApiError::Unavailable(
                "the audit log cannot be written, so the request was not completed; check the server log and disk"
                    .into(),
            )
        };
        self.tx.send(Job::Event(Box::new(event), done)).await.map_err(|_| unavailable())?;
        match wait.await {
            Ok(true) => Ok(()),
            _ => Err(unavailable()),
        }
    }

    /// Waits until every event queued before this call is durable.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Job::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(mut rx: mpsc::Receiver<Job>, store: Arc<dyn Store>, key: ChainKey, batch_max: usize) {
    let mut events = Vec::with_capacity(batch_max);
    let mut waiters = Vec::with_capacity(batch_max);
    let mut flushes = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Event(e, w) => {
                    events.push(*e);
                    waiters.push(w);
                }
                Job::Flush(w) => flushes.push(w),
            }
            if events.len() < batch_max {
                next = rx.try_recv().ok();
            }
        }
        let ok = if events.is_empty() {
            true
        } else {
            match store.append_audit(AuditBatch::new(&key, &events)).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(error = %e, events = events.len(), "audit batch could not be written");
                    false
                }
            }
        };
        events.clear();
        for w in waiters.drain(..) {
            let _ = w.send(ok);
        }
        for f in flushes.drain(..) {
            let _ = f.send(());
        }
    }
}
