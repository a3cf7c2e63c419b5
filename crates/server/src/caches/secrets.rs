//! A cache of current secret versions as stored: ciphertext and metadata, never plaintext.
//!
//! A read of the current version is the hot path; with audit writes landing on every request,
//! SQLite readers would otherwise re-read pages from disk on almost every read. Entries are
//! dropped by every change made through this server (write, rotate, disable, delete, restore,
//! vault deletion), and a read that raced with a change never stores its (possibly stale) row:
//! each invalidation bumps an epoch, and a row is kept only if no invalidation happened while
//! it was being read. With a shared database, other servers' changes arrive through the change
//! log ([`crate::follow`]) before a request looks here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use clawvault_store::{SecretRecord, VersionRecord};
use uuid::Uuid;

/// Entries kept before the cache is emptied (10,000 secrets take a few MiB).
const MAX_ENTRIES: u64 = 100_000;

/// A secret and its current version as stored (ciphertext), as the cache keeps it.
pub type SealedVersion = Arc<(SecretRecord, VersionRecord)>;

/// The cache.
#[derive(Debug, Default)]
pub struct SecretCache {
    entries: RwLock<HashMap<Uuid, HashMap<String, SealedVersion>>>,
    /// Where each cached secret's id lives: a secret keeps its id and path for life (a
    /// deletion and a revival reuse both), so these never go stale; only the cap empties them.
    ids: RwLock<HashMap<Uuid, (Uuid, String)>>,
    len: AtomicU64,
    epoch: AtomicU64,
}

impl SecretCache {
    /// The cached current version at `path`.
    #[must_use]
    pub fn get(&self, vault_id: Uuid, path: &str) -> Option<SealedVersion> {
        let entries = self.entries.read().ok()?;
        entries.get(&vault_id)?.get(path).cloned()
    }

    /// The vault and path of the secret with id `id`, if it was ever cached (whether it
    /// still lives there is for the caller to check against the current version).
    #[must_use]
    pub fn locate(&self, id: Uuid) -> Option<(Uuid, String)> {
        self.ids.read().ok()?.get(&id).cloned()
    }

    /// Call before reading from the store; pass the result to [`SecretCache::put`].
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps a row read from the store, unless anything was invalidated since `epoch`.
    pub fn put(&self, epoch: u64, entry: SealedVersion) {
        if let Ok(mut entries) = self.entries.write() {
            if self.epoch.load(Ordering::Acquire) != epoch {
                return;
            }
            if self.len.load(Ordering::Relaxed) >= MAX_ENTRIES {
                entries.clear();
                self.len.store(0, Ordering::Relaxed);
            }
            if let Ok(mut ids) = self.ids.write() {
                // Forgotten entries leave their ids behind: those are capped on their own.
                if ids.len() as u64 >= MAX_ENTRIES {
                    ids.clear();
                }
                ids.insert(entry.0.id, (entry.0.vault_id, entry.0.path.clone()));
            }
            let vault = entries.entry(entry.0.vault_id).or_default();
            if vault.insert(entry.0.path.clone(), entry).is_none() {
                self.len.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Drops the entry of one path.
    pub fn forget(&self, vault_id: Uuid, path: &str) {
        if let Ok(mut entries) = self.entries.write() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            if entries.get_mut(&vault_id).and_then(|v| v.remove(path)).is_some() {
                self.len.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Drops every entry of a vault.
    pub fn forget_vault(&self, vault_id: Uuid) {
        if let Ok(mut entries) = self.entries.write() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            if let Some(v) = entries.remove(&vault_id) {
                self.len.fetch_sub(v.len() as u64, Ordering::Relaxed);
            }
        }
    }

    /// Drops every entry.
    pub fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.write() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            entries.clear();
            self.len.store(0, Ordering::Relaxed);
        }
        if let Ok(mut ids) = self.ids.write() {
            ids.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clawvault_core::SecretType;
    use clawvault_core::time_util::now;
    use clawvault_store::VersionMeta;

    fn entry(vault_id: Uuid, path: &str, version: i64) -> SealedVersion {
        let secret = SecretRecord {
            id: Uuid::new_v4(),
            vault_id,
            path: path.into(),
            current_version: version,
            created_by: Uuid::nil(),
            created_at: now(),
            updated_at: now(),
            deleted_at: None,
            deleted_through: 0,
        };
        let meta = VersionMeta {
            version,
            secret_type: SecretType::Generic,
            metadata: "{}".into(),
            created_by: Uuid::nil(),
            created_at: now(),
            expires_at: None,
            max_access_count: None,
            access_count: 0,
            is_disabled: false,
            disabled_at: None,
            destroyed: false,
        };
        Arc::new((secret, VersionRecord { meta, ciphertext: vec![] }))
    }

    #[test]
    fn a_cached_secrets_id_locates_it_after_its_entry_is_forgotten() {
        let cache = SecretCache::default();
        let vault = Uuid::new_v4();
        let e = entry(vault, "bots/discord", 1);
        let id = e.0.id;
        cache.put(cache.epoch(), e);
        assert_eq!(cache.locate(id), Some((vault, "bots/discord".to_owned())));
        cache.forget(vault, "bots/discord");
        assert_eq!(cache.locate(id), Some((vault, "bots/discord".to_owned())), "a secret keeps its path");
        cache.forget_all();
        assert_eq!(cache.locate(id), None);
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let c = SecretCache::default();
        let v = Uuid::new_v4();
        let before = c.epoch();
        c.forget(v, "a");
        c.put(before, entry(v, "a", 1));
        assert!(c.get(v, "a").is_none(), "the row may predate the change");
        c.put(c.epoch(), entry(v, "a", 2));
        assert_eq!(c.get(v, "a").unwrap().1.meta.version, 2);
        c.forget(v, "a");
        assert!(c.get(v, "a").is_none());
        c.put(c.epoch(), entry(v, "b", 1));
        c.forget_vault(v);
        assert!(c.get(v, "b").is_none());
    }
}
