//! Shared server state: the store, keys, token service and the caches of
//! opened vaults (record plus unwrapped data key).

use std::ops::Deref;
use std::sync::Arc;

use clawvault_core::audit::ChainKey;
use clawvault_core::crypto::{DataKey, RootKey, vault_key_context};
use clawvault_core::keyring::SubKey;
use clawvault_store::{Store, VaultRecord};
use uuid::Uuid;

use crate::auth::TokenService;
use crate::caches::{PolicyCache, ReadCache, SecretCache};
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::follow::Follower;
use crate::limits::Limits;
use crate::passphrases::Passphrases;
use crate::request_links::RequestLinks;
use crate::share_ids::ShareIds;

/// Opened vaults kept before the cache is emptied.
const VAULT_CACHE_LIMIT: usize = 10_000;

/// A vault with its data key unwrapped.
pub struct OpenVault {
    /// The stored record.
    pub record: VaultRecord,
    /// The data key.
    pub key: DataKey,
}

impl std::fmt::Debug for OpenVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenVault")
            .field("id", &self.record.id)
            .field("name", &self.record.name)
            .finish_non_exhaustive()
    }
}

/// Everything handlers share.
pub struct Inner {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Root key provider.
    pub root: Arc<dyn RootKey>,
    /// Audit chain key.
    pub chain_key: ChainKey,
    /// Key for API-key hashes.
    pub api_key_hash: SubKey,
    /// Key sealing approved agents' keys until delivery.
    pub enrollment_seal: DataKey,
    /// Keys that keep share ids (capabilities) out of the database.
    pub share_ids: ShareIds,
    /// The key that keeps secret request links (capabilities) out of the database.
    pub request_links: RequestLinks,
    /// Access tokens.
    pub tokens: TokenService,
    /// Configuration.
    pub config: Config,
    /// Current versions as stored (ciphertext), for the read path.
    pub secrets: SecretCache,
    /// Parsed policies per principal.
    pub policies: PolicyCache,
    /// Abuse limits.
    pub limits: Limits,
    /// Bounded Argon2id work for share passphrases.
    pub passphrases: Passphrases,
    /// How far this server has followed other servers' changes.
    pub follower: Follower,
    /// Applied changes, for subscribers in this process.
    pub changes: crate::feed::Feed,
    /// Committed secret events, for event streams in this process.
    pub secret_events: crate::feed::SecretEventFeed,
    /// Set when the server begins to shut down: long-lived answers (event streams) end.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Key sets of the JWTs Vault API logins present.
    pub jwks: crate::jwks::Jwks,
    /// The clients of requests sent on a caller's behalf (the proxy, `http_request`).
    pub outbound: crate::outbound::Clients,
    /// The proxy's routes.
    pub routes: crate::caches::RouteTable,
    /// What each identity spends on each proxy route.
    pub budgets: crate::budgets::Budgets,
    /// Installation tokens minted from `github_app` secrets, until shortly before they expire.
    pub minted: crate::minted::MintedTokens,
    /// Work requests left behind once they answered.
    pub background: crate::background::Background,
    vaults: ReadCache<Uuid, Arc<OpenVault>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// Cheap-to-clone handle on [`Inner`].
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Keys derived from the master secret.
pub struct DerivedKeys {
    /// Audit chain key.
    pub chain_key: ChainKey,
    /// Key for API-key hashes.
    pub api_key_hash: SubKey,
    /// Key sealing approved agents' keys until delivery.
    pub enrollment_seal: DataKey,
    /// Keys of share ids.
    pub share_ids: ShareIds,
    /// Key of secret request links.
    pub request_links: RequestLinks,
}

impl AppState {
    /// Assembles the state.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        root: Arc<dyn RootKey>,
        keys: DerivedKeys,
        tokens: TokenService,
        config: Config,
        follower: Follower,
        outbound: crate::outbound::Clients,
    ) -> Self {
        let limits = Limits::new(&config);
        let DerivedKeys { chain_key, api_key_hash, enrollment_seal, share_ids, request_links } = keys;
        Self(Arc::new(Inner {
            store,
            root,
            chain_key,
            api_key_hash,
            enrollment_seal,
            share_ids,
            request_links,
            tokens,
            config,
            secrets: SecretCache::default(),
            policies: PolicyCache::default(),
            limits,
            jwks: crate::jwks::Jwks::default(),
            passphrases: Passphrases::default(),
            follower,
            changes: crate::feed::Feed::default(),
            secret_events: crate::feed::SecretEventFeed::default(),
            stopping: tokio::sync::watch::Sender::new(false),
            outbound,
            routes: crate::caches::RouteTable::default(),
            budgets: crate::budgets::Budgets::default(),
            minted: crate::minted::MintedTokens::default(),
            background: crate::background::Background::default(),
            vaults: ReadCache::new(VAULT_CACHE_LIMIT),
        }))
    }
}

impl AppState {
    /// A handle that does not keep the server alive (background tasks).
    #[must_use]
    pub fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.0)
    }
}

impl Inner {
    /// A vault by id or by name, opened (cached after the first use).
    ///
    /// # Errors
    /// [`ApiError::Internal`] on storage failures, [`ApiError::Integrity`] if its key does not
    /// unwrap.
    pub async fn vault(&self, reference: &str) -> ApiResult<Option<Arc<OpenVault>>> {
        let id = Uuid::parse_str(reference).ok();
        let hit = match id {
            Some(id) => self.vaults.get(&id),
            None => self.vaults.find(|v| v.record.name == reference),
        };
        if hit.is_some() {
            return Ok(hit);
        }
        let epoch = self.vaults.epoch();
        let record = match id {
            Some(id) => self.store.vault(id).await?,
            None => self.store.vault_by_name(reference).await?,
        };
        record.map(|r| self.open_vault(r, epoch)).transpose()
    }

    fn open_vault(&self, record: VaultRecord, epoch: u64) -> ApiResult<Arc<OpenVault>> {
        let key = self.root.unwrap(&record.wrapped_key, &vault_key_context(record.id)).map_err(|e| {
            ApiError::Integrity(format!(
                "the data key of vault {} cannot be unwrapped ({e}); the root key does not match this database or the row was altered",
                record.id
            ))
        })?;
        let open = Arc::new(OpenVault { record, key });
        self.vaults.put(epoch, open.record.id, Arc::clone(&open));
        Ok(open)
    }

    /// Drops a vault from the cache (deleted).
    pub fn forget_vault(&self, id: Uuid) {
        self.vaults.remove(&id);
    }

    /// Drops every opened vault.
    pub fn forget_vaults(&self) {
        self.vaults.clear();
    }
}
