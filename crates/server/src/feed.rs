//! The in-process feeds: applied changes, local or from other servers, and the secret events
//! they recorded, which event streams subscribe to.

use std::sync::Arc;

use clawvault_store::{Change, StoredSecretEvent};
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

/// Secret events kept for a slow stream before it is told it lagged (and reads the store).
const SECRET_EVENT_CAPACITY: usize = 4096;

/// Secret events as they are committed anywhere, in number order, each shared by every stream.
#[derive(Debug)]
pub struct SecretEventFeed(broadcast::Sender<Arc<StoredSecretEvent>>);

impl Default for SecretEventFeed {
    fn default() -> Self {
        Self(broadcast::channel(SECRET_EVENT_CAPACITY).0)
    }
}

impl SecretEventFeed {
    /// Every event published from now on; a subscriber that falls behind gets `Lagged` and
    /// reads what it missed from the store.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredSecretEvent>> {
        self.0.subscribe()
    }

    pub(crate) fn publish(&self, event: StoredSecretEvent) {
        let _ = self.0.send(Arc::new(event));
    }
}
