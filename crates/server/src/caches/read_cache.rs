//! A map of things read from the store (opened vaults, parsed policies, admitted tokens) that
//! a racing invalidation keeps stale entries out of.
//!
//! A request reads a row, another server changes it and its change is applied here (the entry
//! is forgotten), and only then does the first request store what it read: without a guard the
//! stale row would stay cached until the next change, and a deactivated agent's token could
//! keep working on this server. So every invalidation bumps an epoch, callers take the epoch
//! before they read from the store, and what they read is kept only if no invalidation
//! happened meanwhile. Both the bump and the check happen under the map's write lock.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The map.
#[derive(Debug)]
pub struct ReadCache<K, V> {
    entries: RwLock<HashMap<K, V>>,
    epoch: AtomicU64,
    /// Entries kept before the map is emptied.
    limit: usize,
}

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    /// An empty map emptied whenever it would grow past `limit` entries.
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Self { entries: RwLock::new(HashMap::new()), epoch: AtomicU64::new(0), limit }
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<K, V>> {
        self.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<K, V>> {
        self.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The entry under `key`.
    #[must_use]
    pub fn get(&self, key: &K) -> Option<V> {
        self.read().get(key).cloned()
    }

    /// The first entry that satisfies `pred`.
    #[must_use]
    pub fn find(&self, pred: impl Fn(&V) -> bool) -> Option<V> {
        self.read().values().find(|v| pred(v)).cloned()
    }

    /// Call before reading from the store; pass the result to [`ReadCache::put`].
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps `value`, read from the store after `epoch` was taken, unless something was
    /// invalidated since. Returns whether it was kept.
    pub fn put(&self, epoch: u64, key: K, value: V) -> bool {
        let mut m = self.write();
        if self.epoch.load(Ordering::Acquire) != epoch {
            return false;
        }
        if m.len() >= self.limit {
            m.clear();
        }
        m.insert(key, value);
        true
    }

    /// Forgets the entry under `key`.
    pub fn remove(&self, key: &K) {
        let mut m = self.write();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        m.remove(key);
    }

    /// Forgets every entry that does not satisfy `keep`.
    pub fn retain(&self, keep: impl Fn(&K, &V) -> bool) {
        let mut m = self.write();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        m.retain(|k, v| keep(k, v));
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut m = self.write();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        m.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_kept() {
        let c: ReadCache<u32, &str> = ReadCache::new(10);
        let before = c.epoch();
        // Another server's change is applied while the row is being read.
        c.remove(&1);
        assert!(!c.put(before, 1, "stale"));
        assert_eq!(c.get(&1), None);
        assert!(c.put(c.epoch(), 1, "fresh"));
        assert_eq!(c.get(&1), Some("fresh"));
        assert_eq!(c.find(|v| v.starts_with('f')), Some("fresh"));

        let before = c.epoch();
        c.retain(|k, _| *k != 2);
        assert!(!c.put(before, 2, "stale"), "any invalidation counts, not only of the same key");
        c.clear();
        assert_eq!(c.get(&1), None);
    }

    #[test]
    fn the_map_is_emptied_at_its_limit() {
        let c: ReadCache<u32, u32> = ReadCache::new(2);
        for k in 0..3 {
            assert!(c.put(c.epoch(), k, k));
        }
        assert_eq!(c.get(&0), None);
        assert_eq!(c.get(&2), Some(2));
    }
}
