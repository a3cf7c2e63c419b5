//! The in-process feed of applied changes, local or from other servers: what event streams
//! subscribe to.

use clawvault_store::Change;
use tokio::sync::broadcast;

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

    pub(crate) fn publish(&self, change: &Change) {
        // No subscriber is not an error: nothing is listening yet.
        let _ = self.0.send(change.clone());
    }
}
