//! Every principal's policies, parsed once into rules: access decisions run on every request,
//! and parsing patterns each time would put the policy table on the hot path.

use std::sync::Arc;

use clawvault_core::policy::Rule;
use uuid::Uuid;

use super::ReadCache;

/// Principals whose rules are kept before the cache is emptied.
const CACHE_LIMIT: usize = 100_000;

/// A principal's rules, each with the vault it applies in.
pub type Rules = Arc<Vec<(Uuid, Rule)>>;

/// The cache, keyed by principal id.
#[derive(Debug)]
pub struct AccessCache {
    rules: ReadCache<Uuid, Rules>,
}

impl Default for AccessCache {
    fn default() -> Self {
        Self { rules: ReadCache::new(CACHE_LIMIT) }
    }
}

impl AccessCache {
    /// The principal's cached rules.
    #[must_use]
    pub fn get(&self, principal_id: Uuid) -> Option<Rules> {
        self.rules.get(&principal_id)
    }

    /// Call before reading policies from the store; pass the result to [`AccessCache::put`].
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.rules.epoch()
    }

    /// Keeps rules parsed from policies read after `epoch` was taken, unless something was
    /// invalidated since.
    pub fn put(&self, epoch: u64, principal_id: Uuid, rules: Rules) {
        self.rules.put(epoch, principal_id, rules);
    }

    /// Drops a principal's cached rules (their policies changed, or they were deleted).
    pub fn forget(&self, principal_id: Uuid) {
        self.rules.remove(&principal_id);
    }

    /// Drops every principal's rules.
    pub fn forget_all(&self) {
        self.rules.clear();
    }
}
