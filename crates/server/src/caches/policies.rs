//! Every principal's policies, parsed once: access decisions run on every request,
//! and parsing patterns each time would put the policy table on the hot path.

use std::sync::Arc;

use clawvault_core::policy::Policy;
use uuid::Uuid;

use super::ReadCache;

/// Principals whose policies are kept before the cache is emptied.
const CACHE_LIMIT: usize = 100_000;

/// A principal's policies, each with the vault it applies in.
pub type Policies = Arc<Vec<(Uuid, Policy)>>;

/// The cache, keyed by principal id.
#[derive(Debug)]
pub struct PolicyCache {
    policies: ReadCache<Uuid, Policies>,
}

impl Default for PolicyCache {
    fn default() -> Self {
        Self { policies: ReadCache::new(CACHE_LIMIT) }
    }
}

impl PolicyCache {
    /// The principal's cached policies.
    #[must_use]
    pub fn get(&self, principal_id: Uuid) -> Option<Policies> {
        self.policies.get(&principal_id)
    }

    /// Call before reading policies from the store; pass the result to [`PolicyCache::put`].
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.policies.epoch()
    }

    /// Keeps policies parsed from policies read after `epoch` was taken, unless something was
    /// invalidated since.
    pub fn put(&self, epoch: u64, principal_id: Uuid, policies: Policies) {
        self.policies.put(epoch, principal_id, policies);
    }

    /// Drops a principal's cached policies (their policies changed, or they were deleted).
    pub fn forget(&self, principal_id: Uuid) {
        self.policies.remove(&principal_id);
    }

    /// Drops every principal's policies.
    pub fn forget_all(&self) {
        self.policies.clear();
    }
}
