//! `impl Store for SqliteStore`: point reads inline, scans on the blocking pool, writes as
//! group-commit jobs.

use async_trait::async_trait;
use clawvault_core::audit::{ChainHead, ChainedEvent};
use clawvault_store::{
    AgentRecord, ApiKeyRecord, AuditBatch, AuditFilter, AuthRoleRecord, ConsumerRecord, EnrollmentRecord,
    KvSettingsRecord, PolicyRecord, PrincipalKind, ProxyRouteRecord, ProxyUsageRecord, PutVersion, Result,
    SecretEventPage, SecretRecord, SecretRequestRecord, ServerKeyRecord, ShareChange, ShareRecord, Store, StoreError,
    UserDeletion, UserRecord, VaultRecord, VersionChange, VersionMeta, VersionRecord,
};
use rusqlite::params;
use time::OffsetDateTime;
use uuid::Uuid;

use std::sync::Arc;

use crate::audit::OwnedAudit;
use crate::audit_query;
use crate::convert::{self, micros, opt_micros, secret_columns, version_columns};
use crate::sql::{all, conflict_on_unique, execute, one};
use crate::{SqliteStore, backend, trail};

/// A secret and one of its versions (`?3`, or the current one when NULL), by vault and path:
/// the statement behind every read of a value.
pub(crate) const VERSION: &str = concat!(
    "SELECT ",
    secret_columns!(),
    ", ",
    version_columns!(),
    ", v.ciphertext AS v_ciphertext \
     FROM secrets s JOIN secret_versions v ON v.secret_id = s.id AND v.version = COALESCE(?3, s.current_version) \
     WHERE s.vault_id = ?1 AND s.path = ?2"
);

#[async_trait]
impl Store for SqliteStore {
    async fn server_key(&self, name: &str) -> Result<Option<ServerKeyRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM server_keys WHERE name = ?", [name], convert::server_key))
    }

    async fn insert_server_key(&self, key: ServerKeyRecord) -> Result<ServerKeyRecord> {
        let name = key.name.clone();
        self.writer()?
            .write(move |c| {
                execute(
                    c,
                    "INSERT INTO server_keys (name, wrapped, root_key_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                    params![key.name, key.wrapped, key.root_key_id, micros(key.created_at)],
                )
                .map(|_| ())
                .map_err(backend)
            })
            .await?;
        self.server_key(&name).await?.ok_or(StoreError::Corrupt("server key vanished".into()))
    }

    async fn create_user(&self, user: &UserRecord, audit: AuditBatch<'_>) -> Result<()> {
        let (user, audit) = (user.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                execute(
                    c,
                    "INSERT INTO users (id, name, role, created_at) VALUES (?, ?, ?, ?)",
                    params![user.id, user.name, user.role.as_str(), micros(user.created_at)],
                )
                .map_err(conflict_on_unique("a user with that name exists"))?;
                audit.append(c)
            })
            .await
    }

    async fn user(&self, id: Uuid) -> Result<Option<UserRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM users WHERE id = ?", [id], convert::user))
    }

    async fn count_users(&self) -> Result<u64> {
        let n = self
            .readers
            .read(|c| one(c, "SELECT COUNT(*) AS n FROM users", [], |r| r.get::<_, i64>("n").map_err(backend)))?;
        Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }

    async fn create_api_key(&self, key: &ApiKeyRecord, audit: AuditBatch<'_>) -> Result<()> {
        let scopes = serde_json::to_string(&key.scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let (key, audit) = (key.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                execute(
                    c,
                    "INSERT INTO api_keys (id, user_id, name, key_prefix, key_hash, scopes, is_active, created_at, expires_at, last_used_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        key.id,
                        key.user_id,
                        key.name,
                        key.key_prefix,
                        key.key_hash,
                        scopes,
                        i64::from(key.is_active),
                        micros(key.created_at),
                        opt_micros(key.expires_at),
                        opt_micros(key.last_used_at),
                    ],
                )
                .map_err(backend)?;
                audit.append(c)
            })
            .await
    }

    async fn api_key_by_hash(&self, hash: &[u8]) -> Result<Option<ApiKeyRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM api_keys WHERE key_hash = ?", [hash], convert::api_key))
    }

    async fn list_api_keys(&self, user_id: Uuid) -> Result<Vec<ApiKeyRecord>> {
        self.readers.read(|c| {
            all(c, "SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at, id", [user_id], convert::api_key)
        })
    }

    async fn delete_api_key(&self, user_id: Uuid, key_id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        let audit = OwnedAudit::from(audit);
        self.writer()?
            .write(move |c| {
                let done = execute(c, "DELETE FROM api_keys WHERE id = ? AND user_id = ?", params![key_id, user_id])
                    .map_err(backend)?
                    > 0;
                if done {
                    audit.append(c)?;
                }
                Ok(done)
            })
            .await
    }

    async fn touch_api_key(&self, key_id: Uuid, at: OffsetDateTime) -> Result<()> {
        self.writer()?
            .write(move |c| {
                execute(c, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", params![micros(at), key_id])
                    .map(|_| ())
                    .map_err(backend)
            })
            .await
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        self.list_users_impl().await
    }

    async fn delete_user(&self, id: Uuid, at: OffsetDateTime, audit: AuditBatch<'_>) -> Result<UserDeletion> {
        self.delete_user_impl(id, at, audit).await
    }

    async fn api_key(&self, key_id: Uuid) -> Result<Option<ApiKeyRecord>> {
        self.api_key_impl(key_id).await
    }

    async fn server_keys(&self, prefix: &str) -> Result<Vec<ServerKeyRecord>> {
        self.server_keys_impl(prefix).await
    }

    async fn create_agent(&self, agent: &AgentRecord, audit: AuditBatch<'_>) -> Result<()> {
        self.create_agent_impl(agent, audit).await
    }

    async fn agent(&self, id: Uuid) -> Result<Option<AgentRecord>> {
        self.agent_impl(id).await
    }

    async fn agent_by_key_hash(&self, hash: &[u8]) -> Result<Option<AgentRecord>> {
        self.agent_by_key_hash_impl(hash).await
    }

    async fn list_agents(&self) -> Result<Vec<AgentRecord>> {
        self.list_agents_impl().await
    }

    async fn update_agent(&self, agent: &AgentRecord, audit: AuditBatch<'_>) -> Result<bool> {
        self.update_agent_impl(agent, audit).await
    }

    async fn delete_agent(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        self.delete_agent_impl(id, audit).await
    }

    async fn touch_agent(&self, id: Uuid, at: OffsetDateTime) -> Result<()> {
        self.touch_agent_impl(id, at).await
    }

    async fn create_policy(&self, policy: &PolicyRecord, audit: AuditBatch<'_>) -> Result<()> {
        self.create_policy_impl(policy, audit).await
    }

    async fn policy(&self, id: Uuid) -> Result<Option<PolicyRecord>> {
        self.policy_impl(id).await
    }

    async fn list_policies(&self, vault_id: Uuid) -> Result<Vec<PolicyRecord>> {
        self.list_policies_impl(vault_id).await
    }

    async fn policies_of(&self, kind: PrincipalKind, principal_id: Uuid) -> Result<Vec<PolicyRecord>> {
        self.policies_of_impl(kind, principal_id).await
    }

    async fn update_policy(&self, policy: &PolicyRecord, audit: AuditBatch<'_>) -> Result<bool> {
        self.update_policy_impl(policy, audit).await
    }

    async fn delete_policy(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        self.delete_policy_impl(id, audit).await
    }

    async fn create_share(&self, share: &ShareRecord, audit: AuditBatch<'_>) -> Result<()> {
        self.create_share_impl(share, audit).await
    }

    async fn share(&self, id: Uuid) -> Result<Option<ShareRecord>> {
        self.share_impl(id).await
    }

    async fn shares_by(&self, creator: Uuid) -> Result<Vec<ShareRecord>> {
        self.shares_by_impl(creator).await
    }

    async fn all_shares(&self) -> Result<Vec<ShareRecord>> {
        self.all_shares_impl().await
    }

    async fn unhashed_shares(&self) -> Result<Vec<Uuid>> {
        self.unhashed_shares_impl().await
    }

    async fn rekey_share(&self, old: Uuid, row: Uuid, sealed_id: Vec<u8>) -> Result<()> {
        self.rekey_share_impl(old, row, sealed_id).await
    }

    async fn shares_for(&self, recipient: Uuid) -> Result<Vec<ShareRecord>> {
        self.shares_for_impl(recipient).await
    }

    async fn change_share(&self, id: Uuid, change: ShareChange, audit: AuditBatch<'_>) -> Result<bool> {
        self.change_share_impl(id, change, audit).await
    }

    async fn consume_share(&self, id: Uuid, max: Option<i64>) -> Result<Option<i64>> {
        self.consume_share_impl(id, max).await
    }

    async fn create_auth_role(&self, role: &AuthRoleRecord, audit: AuditBatch<'_>) -> Result<()> {
        self.create_auth_role_impl(role, audit).await
    }

    async fn auth_role(&self, method: &str, name: &str) -> Result<Option<AuthRoleRecord>> {
        self.auth_role_impl(method, name).await
    }

    async fn auth_role_by_id(&self, id: Uuid) -> Result<Option<AuthRoleRecord>> {
        self.auth_role_by_id_impl(id).await
    }

    async fn auth_roles(&self) -> Result<Vec<AuthRoleRecord>> {
        self.auth_roles_impl().await
    }

    async fn delete_auth_role(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        self.delete_auth_role_impl(id, audit).await
    }

    async fn ack_consumers(&self, acks: &[ConsumerRecord], audit: AuditBatch<'_>) -> Result<()> {
        self.ack_consumers_impl(acks, audit).await
    }

    async fn consumers(&self, vault_id: Option<Uuid>, path: Option<&str>) -> Result<Vec<ConsumerRecord>> {
        self.consumers_impl(vault_id, path).await
    }

    async fn put_proxy_route(&self, route: &ProxyRouteRecord, replace: bool, audit: AuditBatch<'_>) -> Result<bool> {
        self.put_proxy_route_impl(route, replace, audit).await
    }

    async fn proxy_routes(&self) -> Result<Vec<ProxyRouteRecord>> {
        self.proxy_routes_impl().await
    }

    async fn delete_proxy_route(&self, name: &str, audit: AuditBatch<'_>) -> Result<bool> {
        self.delete_proxy_route_impl(name, audit).await
    }

    async fn add_proxy_usage(&self, usage: &[ProxyUsageRecord]) -> Result<()> {
        self.add_proxy_usage_impl(usage).await
    }

    async fn proxy_usage(
        &self,
        since_day: i64,
        route: Option<&str>,
        principal_id: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ProxyUsageRecord>> {
        self.proxy_usage_impl(since_day, route, principal_id, limit).await
    }

    async fn secret_events_after(&self, after: i64, limit: u32) -> Result<SecretEventPage> {
        self.secret_events_after_impl(after, limit).await
    }

    async fn secret_event_head(&self) -> Result<i64> {
        self.secret_event_head_impl().await
    }

    async fn prune_secret_events(&self, before: OffsetDateTime) -> Result<u64> {
        self.prune_secret_events_impl(before).await
    }

    async fn create_secret_request(
        &self,
        request: &SecretRequestRecord,
        forget_before: OffsetDateTime,
        audit: AuditBatch<'_>,
    ) -> Result<()> {
        self.create_secret_request_impl(request, forget_before, audit).await
    }

    async fn secret_request(&self, id: Uuid) -> Result<Option<SecretRequestRecord>> {
        self.secret_request_impl(id).await
    }

    async fn open_secret_requests(&self, requester: Uuid, now: OffsetDateTime) -> Result<i64> {
        self.open_secret_requests_impl(requester, now).await
    }

    async fn claim_secret_request(&self, id: Uuid, at: OffsetDateTime) -> Result<bool> {
        self.claim_secret_request_impl(id, at).await
    }

    async fn release_secret_request(&self, id: Uuid) -> Result<()> {
        self.release_secret_request_impl(id).await
    }

    async fn create_enrollment(&self, enrollment: &EnrollmentRecord, audit: AuditBatch<'_>) -> Result<()> {
        self.create_enrollment_impl(enrollment, audit).await
    }

    async fn enrollment(&self, id: Uuid) -> Result<Option<EnrollmentRecord>> {
        self.enrollment_impl(id).await
    }

    async fn pending_enrollments(&self, now: OffsetDateTime) -> Result<Vec<EnrollmentRecord>> {
        self.pending_enrollments_impl(now).await
    }

    async fn decide_enrollment(
        &self,
        id: Uuid,
        decided_by: Uuid,
        approved: Option<(&AgentRecord, Vec<u8>)>,
        audit: AuditBatch<'_>,
    ) -> Result<()> {
        self.decide_enrollment_impl(id, decided_by, approved, audit).await
    }

    async fn take_enrollment_key(&self, id: Uuid) -> Result<Option<Vec<u8>>> {
        self.take_enrollment_key_impl(id).await
    }

    async fn revoke_token(&self, jti: &str, expires_at: OffsetDateTime, audit: AuditBatch<'_>) -> Result<()> {
        let (jti, audit) = (jti.to_owned(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                execute(
                    c,
                    "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING",
                    params![jti, micros(expires_at)],
                )
                .map_err(backend)?;
                audit.append(c)
            })
            .await
    }

    async fn revoked_tokens(&self, now: OffsetDateTime) -> Result<Vec<String>> {
        if let Ok(w) = self.writer() {
            w.write(move |c| {
                execute(c, "DELETE FROM revoked_tokens WHERE expires_at < ?", [micros(now)])
                    .map(|_| ())
                    .map_err(backend)
            })
            .await?;
        }
        self.readers.read(|c| {
            all(c, "SELECT jti FROM revoked_tokens WHERE expires_at >= ?", [micros(now)], |r| {
                r.get::<_, String>("jti").map_err(backend)
            })
        })
    }

    async fn create_vault(&self, vault: &VaultRecord, audit: AuditBatch<'_>) -> Result<()> {
        let (v, audit) = (vault.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                execute(
                    c,
                    "INSERT INTO vaults (id, name, description, created_by, created_by_type, created_at, wrapped_key, root_key_id) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        v.id,
                        v.name,
                        v.description,
                        v.created_by,
                        v.created_by_type.as_str(),
                        micros(v.created_at),
                        v.wrapped_key,
                        v.root_key_id
                    ],
                )
                .map_err(conflict_on_unique("a vault with that name exists"))?;
                audit.append(c)
            })
            .await
    }

    async fn vault(&self, id: Uuid) -> Result<Option<VaultRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM vaults WHERE id = ?", [id], convert::vault))
    }

    async fn vault_by_name(&self, name: &str) -> Result<Option<VaultRecord>> {
        self.readers.read(|c| one(c, "SELECT * FROM vaults WHERE name = ?", [name], convert::vault))
    }

    async fn list_vaults(&self) -> Result<Vec<VaultRecord>> {
        self.readers.scan(|c| all(c, "SELECT * FROM vaults ORDER BY created_at, id", [], convert::vault)).await
    }

    async fn delete_vault(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        let audit = OwnedAudit::from(audit);
        self.writer()?
            .write(move |c| {
                let done = execute(c, "DELETE FROM vaults WHERE id = ?", [id]).map_err(backend)? > 0;
                if done {
                    audit.append(c)?;
                }
                Ok(done)
            })
            .await
    }

    async fn secret(&self, vault_id: Uuid, path: &str) -> Result<Option<SecretRecord>> {
        self.readers.read(|c| {
            one(
                c,
                concat!("SELECT ", secret_columns!(), " FROM secrets s WHERE s.vault_id = ? AND s.path = ?"),
                params![vault_id, path],
                convert::secret,
            )
        })
    }

    async fn secret_by_id(&self, id: Uuid) -> Result<Option<SecretRecord>> {
        self.readers.read(|c| {
            one(c, concat!("SELECT ", secret_columns!(), " FROM secrets s WHERE s.id = ?"), [id], convert::secret)
        })
    }

    async fn put_version(&self, put: &PutVersion, audit: AuditBatch<'_>) -> Result<()> {
        if put.record.meta.version != put.expected_version + 1 {
            return Err(StoreError::Conflict("version must follow the expected version"));
        }
        let (put, audit) = (put.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                let m = &put.record.meta;
                if put.expected_version == 0 {
                    execute(
                        c,
                        "INSERT INTO secrets (id, vault_id, path, current_version, created_by, created_at, updated_at, deleted_at) \
                         VALUES (?, ?, ?, 1, ?, ?, ?, NULL)",
                        params![put.secret_id, put.vault_id, put.path, m.created_by, micros(m.created_at), micros(m.created_at)],
                    )
                    .map_err(conflict_on_unique("the secret was created concurrently"))?;
                } else {
                    let updated = execute(
                        c,
                        "UPDATE secrets SET current_version = ?, updated_at = ?, deleted_at = NULL, \
                         deleted_through = CASE WHEN deleted_at IS NULL THEN deleted_through ELSE current_version END \
                         WHERE id = ? AND vault_id = ? AND current_version = ?",
                        params![m.version, micros(m.created_at), put.secret_id, put.vault_id, put.expected_version],
                    )
                    .map_err(backend)?;
                    if updated == 0 {
                        return Err(StoreError::Conflict("the secret changed concurrently"));
                    }
                }
                execute(
                    c,
                    "INSERT INTO secret_versions (secret_id, version, secret_type, metadata, created_by, created_at, expires_at, \
                     max_access_count, access_count, is_disabled, ciphertext) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?)",
                    params![
                        put.secret_id,
                        m.version,
                        m.secret_type.as_str(),
                        m.metadata,
                        m.created_by,
                        micros(m.created_at),
                        opt_micros(m.expires_at),
                        m.max_access_count,
                        put.record.ciphertext,
                    ],
                )
                .map_err(conflict_on_unique("the version exists"))?;
                audit.append(c)
            })
            .await
    }

    async fn version(
        &self,
        vault_id: Uuid,
        path: &str,
        version: Option<i64>,
    ) -> Result<Option<(SecretRecord, VersionRecord)>> {
        self.readers.read(|c| one(c, VERSION, params![vault_id, path, version], convert::secret_and_version))
    }

    async fn consume_access(&self, secret_id: Uuid, version: i64, max: i64) -> Result<Option<i64>> {
        self.writer()?
            .write(move |c| {
                one(
                    c,
                    "UPDATE secret_versions SET access_count = access_count + 1 \
                     WHERE secret_id = ? AND version = ? AND access_count < ? RETURNING access_count",
                    params![secret_id, version, max],
                    |r| r.get::<_, i64>(0).map_err(backend),
                )
            })
            .await
    }

    async fn list_secrets(&self, vault_id: Uuid, prefix: &str) -> Result<Vec<(SecretRecord, VersionMeta)>> {
        let prefix = prefix.to_owned();
        self.readers
            .scan(move |c| {
                all(
                    c,
                    concat!(
                        "SELECT ",
                        secret_columns!(),
                        ", ",
                        version_columns!(),
                        " FROM secrets s JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.current_version \
                         WHERE s.vault_id = ?1 AND s.deleted_at IS NULL AND substr(s.path, 1, ?2) = ?3 ORDER BY s.path"
                    ),
                    params![vault_id, i64::try_from(prefix.len()).unwrap_or(i64::MAX), prefix],
                    convert::secret_and_meta,
                )
            })
            .await
    }

    async fn list_versions(&self, secret_id: Uuid) -> Result<Vec<VersionMeta>> {
        self.readers.read(|c| {
            all(
                c,
                concat!(
                    "SELECT ",
                    version_columns!(),
                    " FROM secret_versions v WHERE v.secret_id = ? ORDER BY v.version DESC"
                ),
                [secret_id],
                convert::version_meta,
            )
        })
    }

    async fn change_version(
        &self,
        secret_id: Uuid,
        version: i64,
        change: VersionChange,
        at: OffsetDateTime,
        audit: AuditBatch<'_>,
    ) -> Result<bool> {
        let audit = OwnedAudit::from(audit);
        let statement = match change {
            VersionChange::Disable => {
                "UPDATE secret_versions SET is_disabled = 1, disabled_at = COALESCE(disabled_at, ?1) \
                 WHERE secret_id = ?2 AND version = ?3"
            }
            VersionChange::Enable => {
                "UPDATE secret_versions SET is_disabled = 0, disabled_at = NULL \
                 WHERE secret_id = ?2 AND version = ?3 AND destroyed = 0"
            }
            VersionChange::Destroy => {
                "UPDATE secret_versions SET is_disabled = 1, destroyed = 1, ciphertext = X'' \
                 WHERE secret_id = ?2 AND version = ?3"
            }
        };
        self.writer()?
            .write(move |c| {
                let done = execute(c, statement, params![micros(at), secret_id, version]).map_err(backend)? > 0;
                if done {
                    audit.append(c)?;
                }
                Ok(done)
            })
            .await
    }

    async fn kv_settings(&self, vault_id: Uuid, path: &str) -> Result<Option<KvSettingsRecord>> {
        self.kv_settings_impl(vault_id, path).await
    }

    async fn kv_settings_under(&self, vault_id: Uuid, prefix: &str) -> Result<Vec<KvSettingsRecord>> {
        self.kv_settings_under_impl(vault_id, prefix).await
    }

    async fn put_kv_settings(&self, settings: &KvSettingsRecord, audit: AuditBatch<'_>) -> Result<()> {
        self.put_kv_settings_impl(settings, audit).await
    }

    async fn delete_kv_settings(&self, vault_id: Uuid, path: &str, audit: AuditBatch<'_>) -> Result<bool> {
        self.delete_kv_settings_impl(vault_id, path, audit).await
    }

    async fn set_secret_deleted(
        &self,
        secret_id: Uuid,
        deleted_at: Option<OffsetDateTime>,
        audit: AuditBatch<'_>,
    ) -> Result<bool> {
        let audit = OwnedAudit::from(audit);
        self.writer()?
            .write(move |c| {
                let done = execute(
                    c,
                    "UPDATE secrets SET deleted_at = ?1, deleted_through = CASE WHEN ?1 IS NULL THEN 0 ELSE deleted_through END WHERE id = ?2",
                    params![opt_micros(deleted_at), secret_id],
                )
                .map_err(backend)?
                    > 0;
                if done {
                    audit.append(c)?;
                }
                Ok(done)
            })
            .await
    }

    async fn ping(&self) -> Result<()> {
        self.readers.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(backend))?;
        match &self.writer {
            Some(w) => w.usable(),
            None => Ok(()),
        }
    }

    async fn append_audit(&self, batch: AuditBatch<'_>) -> Result<()> {
        let audit = OwnedAudit::from(batch);
        self.writer()?.audit(audit).await
    }

    async fn audit_head(&self) -> Result<Option<ChainHead>> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.chain_head())
            .await
            .map_err(|e| StoreError::Backend(format!("reading the audit head: {e}")))?
    }

    async fn list_audit(&self, f: &AuditFilter) -> Result<(Vec<ChainedEvent>, u64)> {
        // Queries read the index: bring it up to the log's end first.
        if self.writer.is_some() {
            self.index_audit().await?;
        }
        let f = f.clone();
        self.readers.scan(move |c| audit_query::list(c, &f)).await
    }

    async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<ChainedEvent>> {
        let log = Arc::clone(&self.log);
        if !log.exists().map_err(trail::log_error)? {
            // A data directory from before the log, opened read-only: its events are all in
            // the database.
            return self
                .readers
                .scan(move |c| {
                    all(
                        c,
                        "SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?",
                        params![after_seq, i64::from(limit)],
                        convert::chained_event,
                    )
                })
                .await;
        }
        tokio::task::spawn_blocking(move || trail::read_after(&log, after_seq, limit))
            .await
            .map_err(|e| StoreError::Backend(format!("reading the audit log: {e}")))?
    }
}
