//! The storage trait of clawvault and the records it stores.
//!
//! A backend (embedded SQLite now, PostgreSQL for several replicas) implements [`Store`].
//! The trait is shaped for both: writes that must not collide are compare-and-set
//! ([`PutVersion::expected_version`]) and report [`StoreError::Conflict`] instead of relying on
//! a single writer; audit events that belong to a change are appended in the same transaction
//! as the change ([`AuditBatch`]); the audit chain's head is read and advanced inside that
//! transaction, so any number of writers produce one chain.
//!
//! Ciphertext is all the store ever sees of a secret value.

mod changes;
pub mod codec;
mod error;
mod events;
mod records;

#[cfg(feature = "conformance")]
pub mod conformance;

use async_trait::async_trait;
use clawvault_core::audit::{AuditEvent, ChainHead, ChainKey, ChainedEvent};
use time::OffsetDateTime;
use uuid::Uuid;

pub use changes::{Change, ChangeBatch};
pub use error::StoreError;
pub use events::{SecretEvent, SecretEventKind, SecretEventPage, StoredSecretEvent};
pub use records::*;

/// Events per run of a backend's audit lookups. Filtered audit queries read lookups that are
/// written after the events, a run at a time: each run's lookups are sorted under a key prefix
/// of their own, so a run's pages are filled in order and written once, where one sort order as
/// large as the history would put each event of a random resource on a page of its own. A query
/// seeks every run (about 60 seeks per million events: runs are not merged into larger ones
/// yet) and scans the events past the last whole run.
pub const AUDIT_LOOKUP_RUN: i64 = 16_384;

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What a write leaves behind besides its rows: the audit events describing it, chained with
/// `key`, and the changes other servers must apply to what they keep in memory, both in the
/// same transaction as the write. The caller decides both; a backend records the changes only
/// when other servers share it ([`Store::shared`]) and adds none of its own to such a write, so
/// the writing server applies exactly the list that every other server follows.
#[derive(Debug, Clone, Copy)]
pub struct AuditBatch<'a> {
    /// The chain key.
    pub key: &'a ChainKey,
    /// Events in order.
    pub events: &'a [AuditEvent],
    /// What the write changes for servers that keep state in memory.
    pub changes: &'a [Change],
    /// What the write did to secrets, for event streams.
    pub secret_events: &'a [SecretEvent],
}

impl<'a> AuditBatch<'a> {
    /// A batch of events, for a write that changes nothing other servers keep.
    #[must_use]
    pub fn new(key: &'a ChainKey, events: &'a [AuditEvent]) -> Self {
        Self { key, events, changes: &[], secret_events: &[] }
    }

    /// The same batch, announcing `changes` to the other servers.
    #[must_use]
    pub fn changing(self, changes: &'a [Change]) -> Self {
        Self { changes, ..self }
    }

    /// The same batch, recording `secret_events` (every backend records them).
    #[must_use]
    pub fn announcing(self, secret_events: &'a [SecretEvent]) -> Self {
        Self { secret_events, ..self }
    }
}

/// The storage backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- server keys (wrapped key material) -------------------------------------------------

    /// A wrapped server key by name (`master`, `jwt-signing`, ...).
    async fn server_key(&self, name: &str) -> Result<Option<ServerKeyRecord>>;

    /// Stores a wrapped server key unless one of that name exists; returns the stored one.
    async fn insert_server_key(&self, key: ServerKeyRecord) -> Result<ServerKeyRecord>;

    // --- users and API keys -----------------------------------------------------------------

    /// Creates a user.
    async fn create_user(&self, user: &UserRecord, audit: AuditBatch<'_>) -> Result<()>;

    /// A user by id.
    async fn user(&self, id: Uuid) -> Result<Option<UserRecord>>;

    /// Number of users (zero means the data directory is new).
    async fn count_users(&self) -> Result<u64>;

    /// Creates an API key record (the hash, never the key).
    async fn create_api_key(&self, key: &ApiKeyRecord, audit: AuditBatch<'_>) -> Result<()>;

    /// The API key with this keyed hash.
    async fn api_key_by_hash(&self, hash: &[u8]) -> Result<Option<ApiKeyRecord>>;

    /// A user's API keys.
    async fn list_api_keys(&self, user_id: Uuid) -> Result<Vec<ApiKeyRecord>>;

    /// Deletes a user's API key; false if there was none.
    async fn delete_api_key(&self, user_id: Uuid, key_id: Uuid, audit: AuditBatch<'_>) -> Result<bool>;

    /// Records the last use of a key.
    async fn touch_api_key(&self, key_id: Uuid, at: OffsetDateTime) -> Result<()>;

    /// All users.
    async fn list_users(&self) -> Result<Vec<UserRecord>>;

    /// Deletes a user with their API keys and policies and deactivates every agent they
    /// created (as [`Store::update_agent`] would: inactive, `not_before = at`, token generation
    /// raised), all in one transaction that also checks this is not the last admin, so two
    /// admins deleting each other at once cannot leave none.
    async fn delete_user(&self, id: Uuid, at: OffsetDateTime, audit: AuditBatch<'_>) -> Result<UserDeletion>;

    /// An API key by id.
    async fn api_key(&self, key_id: Uuid) -> Result<Option<ApiKeyRecord>>;

    /// Server keys whose name starts with `prefix`, oldest first (token signing keys).
    async fn server_keys(&self, prefix: &str) -> Result<Vec<ServerKeyRecord>>;

    // --- agents -----------------------------------------------------------------------------

    /// Creates an agent; [`StoreError::Conflict`] if the key hash is taken.
    async fn create_agent(&self, agent: &AgentRecord, audit: AuditBatch<'_>) -> Result<()>;

    /// An agent by id.
    async fn agent(&self, id: Uuid) -> Result<Option<AgentRecord>>;

    /// The agent holding this key hash.
    async fn agent_by_key_hash(&self, hash: &[u8]) -> Result<Option<AgentRecord>>;

    /// All agents, oldest first.
    async fn list_agents(&self) -> Result<Vec<AgentRecord>>;

    /// Replaces an agent's record (every field but `id` and `created_at`); false if none.
    async fn update_agent(&self, agent: &AgentRecord, audit: AuditBatch<'_>) -> Result<bool>;

    /// Deletes an agent with its policies; false if there was none.
    async fn delete_agent(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool>;

    /// Records the last token exchange.
    async fn touch_agent(&self, id: Uuid, at: OffsetDateTime) -> Result<()>;

    // --- policies ---------------------------------------------------------------------------

    /// Creates a policy.
    async fn create_policy(&self, policy: &PolicyRecord, audit: AuditBatch<'_>) -> Result<()>;

    /// A policy by id.
    async fn policy(&self, id: Uuid) -> Result<Option<PolicyRecord>>;

    /// A vault's policies, oldest first.
    async fn list_policies(&self, vault_id: Uuid) -> Result<Vec<PolicyRecord>>;

    /// Every policy naming a principal, in every vault.
    async fn policies_of(&self, kind: PrincipalKind, principal_id: Uuid) -> Result<Vec<PolicyRecord>>;

    /// Replaces a policy's mutable fields (permissions, effect, conditions, priority, expiry).
    async fn update_policy(&self, policy: &PolicyRecord, audit: AuditBatch<'_>) -> Result<bool>;

    /// Deletes a policy; false if there was none.
    async fn delete_policy(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool>;

    // --- shares -----------------------------------------------------------------------------

    /// Creates a share.
    async fn create_share(&self, share: &ShareRecord, audit: AuditBatch<'_>) -> Result<()>;

    /// A share by id.
    async fn share(&self, id: Uuid) -> Result<Option<ShareRecord>>;

    /// Shares created by a principal, newest first.
    async fn shares_by(&self, creator: Uuid) -> Result<Vec<ShareRecord>>;

    /// Every share, newest first (admins).
    async fn all_shares(&self) -> Result<Vec<ShareRecord>>;

    /// Shares addressed to a principal (user or agent id), newest first.
    async fn shares_for(&self, recipient: Uuid) -> Result<Vec<ShareRecord>>;

    /// Accepts, declines or revokes a share; false if there was none.
    async fn change_share(&self, id: Uuid, change: ShareChange, audit: AuditBatch<'_>) -> Result<bool>;

    /// Ids of rows written before share ids were hashed (`sealed_id` is `None`): their id is
    /// still the share's own.
    async fn unhashed_shares(&self) -> Result<Vec<Uuid>>;

    /// Moves a share written before ids were hashed to its hashed row id with its sealed id;
    /// does nothing when another server did it first.
    async fn rekey_share(&self, old: Uuid, row: Uuid, sealed_id: Vec<u8>) -> Result<()>;

    /// Counts one opening of a share with a limit; `None` when the limit was reached.
    async fn consume_share(&self, id: Uuid, max: Option<i64>) -> Result<Option<i64>>;

    // --- login roles ----------------------------------------------------------------------

    /// Creates a login role; [`StoreError::Conflict`] when its method already has the name.
    async fn create_auth_role(&self, role: &AuthRoleRecord, audit: AuditBatch<'_>) -> Result<()>;

    /// A login role by method and name.
    async fn auth_role(&self, method: &str, name: &str) -> Result<Option<AuthRoleRecord>>;

    /// A login role by id.
    async fn auth_role_by_id(&self, id: Uuid) -> Result<Option<AuthRoleRecord>>;

    /// Every login role, by method and name.
    async fn auth_roles(&self) -> Result<Vec<AuthRoleRecord>>;

    /// Deletes a login role; false if there was none.
    async fn delete_auth_role(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool>;

    // --- secret requests ---------------------------------------------------------------------

    /// Records a secret request, and forgets the requests that expired before `forget_before`.
    async fn create_secret_request(
        &self,
        request: &SecretRequestRecord,
        forget_before: OffsetDateTime,
        audit: AuditBatch<'_>,
    ) -> Result<()>;

    /// A secret request by row id.
    async fn secret_request(&self, id: Uuid) -> Result<Option<SecretRequestRecord>>;

    /// How many of `requester`'s requests are still unused and unexpired at `now`.
    async fn open_secret_requests(&self, requester: Uuid, now: OffsetDateTime) -> Result<i64>;

    /// Marks a request that is unused and unexpired at `at` as used; false when it was used,
    /// expired or never existed. Of concurrent claims exactly one wins.
    async fn claim_secret_request(&self, id: Uuid, at: OffsetDateTime) -> Result<bool>;

    /// Makes a claimed request usable again: the value it brought could not be stored.
    async fn release_secret_request(&self, id: Uuid) -> Result<()>;

    // --- enrollment --------------------------------------------------------------------------

    /// Records an enrollment request.
    async fn create_enrollment(&self, enrollment: &EnrollmentRecord, audit: AuditBatch<'_>) -> Result<()>;

    /// An enrollment by pairing id.
    async fn enrollment(&self, id: Uuid) -> Result<Option<EnrollmentRecord>>;

    /// Pending enrollments, oldest first.
    async fn pending_enrollments(&self, now: OffsetDateTime) -> Result<Vec<EnrollmentRecord>>;

    /// Decides a pending enrollment: approve (creating `agent` in the same transaction, with its
    /// key sealed for one delivery) or deny. [`StoreError::Conflict`] when it is no longer
    /// pending.
    async fn decide_enrollment(
        &self,
        id: Uuid,
        decided_by: Uuid,
        approved: Option<(&AgentRecord, Vec<u8>)>,
        audit: AuditBatch<'_>,
    ) -> Result<()>;

    /// Takes the sealed key of an approved enrollment, exactly once (later calls get `None`).
    async fn take_enrollment_key(&self, id: Uuid) -> Result<Option<Vec<u8>>>;

    // --- token revocation -------------------------------------------------------------------

    /// Adds a token id to the denylist until `expires_at`.
    async fn revoke_token(&self, jti: &str, expires_at: OffsetDateTime, audit: AuditBatch<'_>) -> Result<()>;

    /// Token ids revoked and not yet expired at `now` (expired entries are pruned).
    async fn revoked_tokens(&self, now: OffsetDateTime) -> Result<Vec<String>>;

    // --- vaults -----------------------------------------------------------------------------

    /// Creates a vault; [`StoreError::Conflict`] if the name is taken.
    async fn create_vault(&self, vault: &VaultRecord, audit: AuditBatch<'_>) -> Result<()>;

    /// A vault by id.
    async fn vault(&self, id: Uuid) -> Result<Option<VaultRecord>>;

    /// A vault by name.
    async fn vault_by_name(&self, name: &str) -> Result<Option<VaultRecord>>;

    /// All vaults, oldest first.
    async fn list_vaults(&self) -> Result<Vec<VaultRecord>>;

    /// Deletes a vault with all its secrets and versions; false if there was none.
    async fn delete_vault(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool>;

    // --- secrets ----------------------------------------------------------------------------

    /// The secret at a path (deleted or not), without versions.
    async fn secret(&self, vault_id: Uuid, path: &str) -> Result<Option<SecretRecord>>;

    /// A secret by id (deleted or not).
    async fn secret_by_id(&self, id: Uuid) -> Result<Option<SecretRecord>>;

    /// Writes a new version if the secret's current version is still
    /// [`PutVersion::expected_version`]; [`StoreError::Conflict`] otherwise. Writing to a
    /// deleted secret revives it, with the versions from before the deletion left closed
    /// ([`SecretRecord::deleted_through`]).
    async fn put_version(&self, put: &PutVersion, audit: AuditBatch<'_>) -> Result<()>;

    /// A secret and one version (the current one when `version` is `None`), with ciphertext.
    async fn version(
        &self,
        vault_id: Uuid,
        path: &str,
        version: Option<i64>,
    ) -> Result<Option<(SecretRecord, VersionRecord)>>;

    /// Counts one read of a version with a read limit. Returns the new count, or `None` when the
    /// limit was already reached (nothing is counted then).
    async fn consume_access(&self, secret_id: Uuid, version: i64, max: i64) -> Result<Option<i64>>;

    /// Live (not deleted) secrets whose path starts with `prefix`, each with its current
    /// version's metadata, by path.
    async fn list_secrets(&self, vault_id: Uuid, prefix: &str) -> Result<Vec<(SecretRecord, VersionMeta)>>;

    /// All versions of a secret, newest first.
    async fn list_versions(&self, secret_id: Uuid) -> Result<Vec<VersionMeta>>;

    /// Changes a version's state at `at`; false if no such version (or, for
    /// [`VersionChange::Enable`], a destroyed one).
    async fn change_version(
        &self,
        secret_id: Uuid,
        version: i64,
        change: VersionChange,
        at: OffsetDateTime,
        audit: AuditBatch<'_>,
    ) -> Result<bool>;

    /// The Vault KV settings of the key at `path`.
    async fn kv_settings(&self, vault_id: Uuid, path: &str) -> Result<Option<KvSettingsRecord>>;

    /// The Vault KV settings of every key whose path starts with `prefix`, by path.
    async fn kv_settings_under(&self, vault_id: Uuid, prefix: &str) -> Result<Vec<KvSettingsRecord>>;

    /// Writes (creates or replaces) a key's Vault KV settings.
    async fn put_kv_settings(&self, settings: &KvSettingsRecord, audit: AuditBatch<'_>) -> Result<()>;

    /// Forgets a key's Vault KV settings; false if there were none.
    async fn delete_kv_settings(&self, vault_id: Uuid, path: &str, audit: AuditBatch<'_>) -> Result<bool>;

    /// Marks a secret deleted (all versions) or restores it (`deleted_at = None`, which also
    /// reopens versions a write after a deletion left closed).
    async fn set_secret_deleted(
        &self,
        secret_id: Uuid,
        deleted_at: Option<OffsetDateTime>,
        audit: AuditBatch<'_>,
    ) -> Result<bool>;

    // --- audit ------------------------------------------------------------------------------

    /// Appends events to the chain on their own.
    async fn append_audit(&self, audit: AuditBatch<'_>) -> Result<()>;

    /// The chain's authenticated head, if any event was written.
    async fn audit_head(&self) -> Result<Option<ChainHead>>;

    /// Events matching `filter`, oldest first, and the number of all matching events.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<(Vec<ChainedEvent>, u64)>;

    /// Up to `limit` events with `seq > after_seq`, in order (for verification).
    async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<ChainedEvent>>;

    /// Checks that the database answers (readiness).
    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    // --- following other servers ------------------------------------------------------------

    /// Whether other servers may write this database, so that what a server keeps in memory
    /// must follow [`Store::changes_since`]. An embedded store has one writer: this process.
    fn shared(&self) -> bool {
        false
    }

    // --- consumers (the fleet view) -----------------------------------------------------------

    /// Records what consumers hold (each row replaces the one of the same principal,
    /// consumer, host, vault and path).
    async fn ack_consumers(&self, acks: &[ConsumerRecord], audit: AuditBatch<'_>) -> Result<()>;

    /// Consumer rows, of one vault (and path) when given, by vault, path, consumer and host.
    async fn consumers(&self, vault_id: Option<Uuid>, path: Option<&str>) -> Result<Vec<ConsumerRecord>>;

    // --- proxy routes and their usage -------------------------------------------------------

    /// Creates a route, or replaces the one of the same name when `replace`; `false` when
    /// the name is taken and `replace` is not set, or is free and `replace` is set.
    async fn put_proxy_route(&self, route: &ProxyRouteRecord, replace: bool, audit: AuditBatch<'_>) -> Result<bool>;

    /// Every route, by name.
    async fn proxy_routes(&self) -> Result<Vec<ProxyRouteRecord>>;

    /// Deletes a route (its usage rows stay, for the record); `false` when there was none.
    async fn delete_proxy_route(&self, name: &str, audit: AuditBatch<'_>) -> Result<bool>;

    /// Adds each row's counts to the stored row of the same identity, route and day.
    async fn add_proxy_usage(&self, usage: &[ProxyUsageRecord]) -> Result<()>;

    /// Usage rows of `day` and after, of one route and one identity when given, by day, route
    /// and identity; at most `limit`.
    async fn proxy_usage(
        &self,
        since_day: i64,
        route: Option<&str>,
        principal_id: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ProxyUsageRecord>>;

    // --- secret events ---------------------------------------------------------------------

    /// Up to `limit` secret events numbered after `after`, in order; `complete` is false when
    /// some after `after` were pruned.
    async fn secret_events_after(&self, after: i64, limit: u32) -> Result<SecretEventPage>;

    /// The number of the newest secret event (0 before the first): a new stream starts there.
    async fn secret_event_head(&self) -> Result<i64>;

    /// Removes secret events recorded before `before`, always keeping the newest one (whose
    /// number the next stream starts from); returns how many were removed.
    async fn prune_secret_events(&self, before: OffsetDateTime) -> Result<u64>;

    /// The change log's current position (a new follower starts there).
    async fn change_position(&self) -> Result<i64> {
        Ok(0)
    }

    /// Changes committed after `position`, in commit order.
    async fn changes_since(&self, position: i64) -> Result<ChangeBatch> {
        Ok(ChangeBatch { position, changes: Vec::new(), complete: true })
    }

    /// Signalled when the database announces new changes (PostgreSQL's LISTEN/NOTIFY), so
    /// that idle servers follow promptly; `None` for stores nobody else writes.
    fn change_signal(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
}
