//! Secret events: what happened to which secret (never a value), recorded in the transaction
//! of the change, numbered in commit order, and kept for a window so that event streams can
//! resume where a consumer left off.

use time::OffsetDateTime;
use uuid::Uuid;

/// What happened to a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretEventKind {
    /// A new version was written.
    Written,
    /// A new version replaced the current one by rotation.
    Rotated,
    /// The secret was deleted.
    Deleted,
    /// A deleted secret was restored.
    Restored,
    /// A version was disabled (Vault's delete of a version).
    Disabled,
    /// A disabled version was enabled again (Vault's undelete).
    Enabled,
    /// A version's ciphertext was destroyed.
    Destroyed,
}

impl SecretEventKind {
    /// Every kind.
    pub const ALL: [Self; 7] =
        [Self::Written, Self::Rotated, Self::Deleted, Self::Restored, Self::Disabled, Self::Enabled, Self::Destroyed];

    /// The stored name, also the name event streams give it (`secret.<name>`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Written => "written",
            Self::Rotated => "rotated",
            Self::Deleted => "deleted",
            Self::Restored => "restored",
            Self::Disabled => "disabled",
            Self::Enabled => "enabled",
            Self::Destroyed => "destroyed",
        }
    }

    /// The kind named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One event, as a write announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEvent {
    /// Vault.
    pub vault_id: Uuid,
    /// The secret's path.
    pub path: String,
    /// What happened.
    pub kind: SecretEventKind,
    /// The version it concerns (the new one for a write or rotation, the one changed for a
    /// version's change, the current one for a deletion or restoration).
    pub version: i64,
}

/// An event as stored: its number in commit order and when it was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecretEvent {
    /// Its number: events are numbered in commit order across every server.
    pub seq: i64,
    /// When it was recorded.
    pub at: OffsetDateTime,
    /// The event.
    pub event: SecretEvent,
}

/// Events after a number, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretEventPage {
    /// The events (at most the limit asked for).
    pub events: Vec<StoredSecretEvent>,
    /// False when events after the number asked for were already pruned: the consumer missed
    /// some and must resynchronise.
    pub complete: bool,
}
