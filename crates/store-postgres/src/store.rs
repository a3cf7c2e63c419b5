//! `impl Store for PgStore`: each method is one transaction (or one statement) in the module
//! for its records.

use std::sync::Arc;

use async_trait::async_trait;
use clawvault_core::audit::{ChainHead, ChainedEvent};
use clawvault_store::{
    AgentRecord, ApiKeyRecord, AuditBatch, AuditFilter, AuthRoleRecord, ChangeBatch, ConsumerRecord, EnrollmentRecord,
    KvSettingsRecord, PolicyRecord, PrincipalKind, ProxyRouteRecord, ProxyUsageRecord, PutVersion, Result,
    SecretEventPage, SecretRecord, SecretRequestRecord, ServerKeyRecord, ShareChange, ShareRecord, Store, UserDeletion,
    UserRecord, VaultRecord, VersionChange, VersionMeta, VersionRecord,
};
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    PgStore, audit, auth_roles, changes, consumers, kv_settings, policies, principals, proxy_routes, secret_events,
    secret_requests, secrets, shares,
};

#[async_trait]
impl Store for PgStore {
    async fn server_key(&self, name: &str) -> Result<Option<ServerKeyRecord>> {
        principals::server_key(self, name).await
    }

    async fn insert_server_key(&self, key: ServerKeyRecord) -> Result<ServerKeyRecord> {
        principals::insert_server_key(self, key).await
    }

    async fn create_user(&self, user: &UserRecord, audit: AuditBatch<'_>) -> Result<()> {
        principals::create_user(self, user, audit).await
    }

    async fn user(&self, id: Uuid) -> Result<Option<UserRecord>> {
        principals::user(self, id).await
    }

    async fn count_users(&self) -> Result<u64> {
        principals::count_users(self).await
    }

    async fn create_api_key(&self, key: &ApiKeyRecord, audit: AuditBatch<'_>) -> Result<()> {
        principals::create_api_key(self, key, audit).await
    }

    async fn api_key_by_hash(&self, hash: &[u8]) -> Result<Option<ApiKeyRecord>> {
        principals::api_key_by_hash(self, hash).await
    }

    async fn list_api_keys(&self, user_id: Uuid) -> Result<Vec<ApiKeyRecord>> {
        principals::list_api_keys(self, user_id).await
    }

    async fn delete_api_key(&self, user_id: Uuid, key_id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        principals::delete_api_key(self, user_id, key_id, audit).await
    }

    async fn touch_api_key(&self, key_id: Uuid, at: OffsetDateTime) -> Result<()> {
        principals::touch(self, "UPDATE api_keys SET last_used_at = $1 WHERE id = $2", key_id, at).await
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        principals::list_users(self).await
    }

    async fn delete_user(&self, id: Uuid, at: OffsetDateTime, audit: AuditBatch<'_>) -> Result<UserDeletion> {
        principals::delete_user(self, id, at, audit).await
    }

    async fn api_key(&self, key_id: Uuid) -> Result<Option<ApiKeyRecord>> {
        principals::api_key(self, key_id).await
    }

    async fn server_keys(&self, prefix: &str) -> Result<Vec<ServerKeyRecord>> {
        principals::server_keys(self, prefix).await
    }

    async fn create_agent(&self, agent: &AgentRecord, audit: AuditBatch<'_>) -> Result<()> {
        principals::create_agent(self, agent, audit).await
    }

    async fn agent(&self, id: Uuid) -> Result<Option<AgentRecord>> {
        principals::agent(self, id).await
    }

    async fn agent_by_key_hash(&self, hash: &[u8]) -> Result<Option<AgentRecord>> {
        principals::agent_by_key_hash(self, hash).await
    }

    async fn list_agents(&self) -> Result<Vec<AgentRecord>> {
        principals::list_agents(self).await
    }

    async fn update_agent(&self, agent: &AgentRecord, audit: AuditBatch<'_>) -> Result<bool> {
        principals::update_agent(self, agent, audit).await
    }

    async fn delete_agent(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        principals::delete_agent(self, id, audit).await
    }

    async fn touch_agent(&self, id: Uuid, at: OffsetDateTime) -> Result<()> {
        principals::touch(self, "UPDATE agents SET last_active_at = $1 WHERE id = $2", id, at).await
    }

    async fn create_policy(&self, policy: &PolicyRecord, audit: AuditBatch<'_>) -> Result<()> {
        policies::create_policy(self, policy, audit).await
    }

    async fn policy(&self, id: Uuid) -> Result<Option<PolicyRecord>> {
        policies::policy(self, id).await
    }

    async fn list_policies(&self, vault_id: Uuid) -> Result<Vec<PolicyRecord>> {
        policies::list_policies(self, vault_id).await
    }

    async fn policies_of(&self, kind: PrincipalKind, principal_id: Uuid) -> Result<Vec<PolicyRecord>> {
        policies::policies_of(self, kind, principal_id).await
    }

    async fn update_policy(&self, policy: &PolicyRecord, audit: AuditBatch<'_>) -> Result<bool> {
        policies::update_policy(self, policy, audit).await
    }

    async fn delete_policy(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        policies::delete_policy(self, id, audit).await
    }

    async fn create_share(&self, share: &ShareRecord, audit: AuditBatch<'_>) -> Result<()> {
        shares::create_share(self, share, audit).await
    }

    async fn share(&self, id: Uuid) -> Result<Option<ShareRecord>> {
        shares::share(self, id).await
    }

    async fn shares_by(&self, creator: Uuid) -> Result<Vec<ShareRecord>> {
        shares::shares_where(self, "created_by", creator).await
    }

    async fn all_shares(&self) -> Result<Vec<ShareRecord>> {
        shares::all_shares(self).await
    }

    async fn unhashed_shares(&self) -> Result<Vec<Uuid>> {
        shares::unhashed_shares(self).await
    }

    async fn rekey_share(&self, old: Uuid, row: Uuid, sealed_id: Vec<u8>) -> Result<()> {
        shares::rekey_share(self, old, row, sealed_id).await
    }

    async fn shares_for(&self, recipient: Uuid) -> Result<Vec<ShareRecord>> {
        shares::shares_where(self, "recipient_id", recipient).await
    }

    async fn change_share(&self, id: Uuid, change: ShareChange, audit: AuditBatch<'_>) -> Result<bool> {
        shares::change_share(self, id, change, audit).await
    }

    async fn consume_share(&self, id: Uuid, max: Option<i64>) -> Result<Option<i64>> {
        shares::consume_share(self, id, max).await
    }

    async fn create_auth_role(&self, role: &AuthRoleRecord, audit: AuditBatch<'_>) -> Result<()> {
        auth_roles::create(self, role, audit).await
    }

    async fn auth_role(&self, method: &str, name: &str) -> Result<Option<AuthRoleRecord>> {
        auth_roles::get(self, method, name).await
    }

    async fn auth_role_by_id(&self, id: Uuid) -> Result<Option<AuthRoleRecord>> {
        auth_roles::by_id(self, id).await
    }

    async fn auth_roles(&self) -> Result<Vec<AuthRoleRecord>> {
        auth_roles::all(self).await
    }

    async fn delete_auth_role(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        auth_roles::delete(self, id, audit).await
    }

    async fn ack_consumers(&self, acks: &[ConsumerRecord], audit: AuditBatch<'_>) -> Result<()> {
        consumers::ack(self, acks, audit).await
    }

    async fn consumers(&self, vault_id: Option<Uuid>, path: Option<&str>) -> Result<Vec<ConsumerRecord>> {
        consumers::list(self, vault_id, path).await
    }

    async fn put_proxy_route(&self, route: &ProxyRouteRecord, replace: bool, audit: AuditBatch<'_>) -> Result<bool> {
        proxy_routes::put(self, route, replace, audit).await
    }

    async fn proxy_routes(&self) -> Result<Vec<ProxyRouteRecord>> {
        proxy_routes::list(self).await
    }

    async fn delete_proxy_route(&self, name: &str, audit: AuditBatch<'_>) -> Result<bool> {
        proxy_routes::delete(self, name, audit).await
    }

    async fn add_proxy_usage(&self, usage: &[ProxyUsageRecord]) -> Result<()> {
        proxy_routes::add_usage(self, usage).await
    }

    async fn proxy_usage(
        &self,
        since_day: i64,
        route: Option<&str>,
        principal_id: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ProxyUsageRecord>> {
        proxy_routes::usage_since(self, since_day, route, principal_id, limit).await
    }

    async fn secret_events_after(&self, after: i64, limit: u32) -> Result<SecretEventPage> {
        secret_events::after(self, after, limit).await
    }

    async fn secret_event_head(&self) -> Result<i64> {
        secret_events::head(self).await
    }

    async fn prune_secret_events(&self, before: OffsetDateTime) -> Result<u64> {
        secret_events::prune(self, before).await
    }

    async fn create_secret_request(
        &self,
        request: &SecretRequestRecord,
        forget_before: OffsetDateTime,
        audit: AuditBatch<'_>,
    ) -> Result<()> {
        secret_requests::create(self, request, forget_before, audit).await
    }

    async fn secret_request(&self, id: Uuid) -> Result<Option<SecretRequestRecord>> {
        secret_requests::get(self, id).await
    }

    async fn open_secret_requests(&self, requester: Uuid, now: OffsetDateTime) -> Result<i64> {
        secret_requests::open_count(self, requester, now).await
    }

    async fn claim_secret_request(&self, id: Uuid, at: OffsetDateTime) -> Result<bool> {
        secret_requests::claim(self, id, at).await
    }

    async fn release_secret_request(&self, id: Uuid) -> Result<()> {
        secret_requests::release(self, id).await
    }

    async fn create_enrollment(&self, enrollment: &EnrollmentRecord, audit: AuditBatch<'_>) -> Result<()> {
        principals::create_enrollment(self, enrollment, audit).await
    }

    async fn enrollment(&self, id: Uuid) -> Result<Option<EnrollmentRecord>> {
        principals::enrollment(self, id).await
    }

    async fn pending_enrollments(&self, now: OffsetDateTime) -> Result<Vec<EnrollmentRecord>> {
        principals::pending_enrollments(self, now).await
    }

    async fn decide_enrollment(
        &self,
        id: Uuid,
        decided_by: Uuid,
        approved: Option<(&AgentRecord, Vec<u8>)>,
        audit: AuditBatch<'_>,
    ) -> Result<()> {
        principals::decide_enrollment(self, id, decided_by, approved, audit).await
    }

    async fn take_enrollment_key(&self, id: Uuid) -> Result<Option<Vec<u8>>> {
        principals::take_enrollment_key(self, id).await
    }

    async fn revoke_token(&self, jti: &str, expires_at: OffsetDateTime, audit: AuditBatch<'_>) -> Result<()> {
        principals::revoke_token(self, jti, expires_at, audit).await
    }

    async fn revoked_tokens(&self, now: OffsetDateTime) -> Result<Vec<String>> {
        principals::revoked_tokens(self, now).await
    }

    async fn create_vault(&self, vault: &VaultRecord, audit: AuditBatch<'_>) -> Result<()> {
        secrets::create_vault(self, vault, audit).await
    }

    async fn vault(&self, id: Uuid) -> Result<Option<VaultRecord>> {
        secrets::vault(self, id).await
    }

    async fn vault_by_name(&self, name: &str) -> Result<Option<VaultRecord>> {
        secrets::vault_by_name(self, name).await
    }

    async fn list_vaults(&self) -> Result<Vec<VaultRecord>> {
        secrets::list_vaults(self).await
    }

    async fn delete_vault(&self, id: Uuid, audit: AuditBatch<'_>) -> Result<bool> {
        secrets::delete_vault(self, id, audit).await
    }

    async fn secret(&self, vault_id: Uuid, path: &str) -> Result<Option<SecretRecord>> {
        secrets::secret(self, vault_id, path).await
    }

    async fn secret_by_id(&self, id: Uuid) -> Result<Option<SecretRecord>> {
        secrets::secret_by_id(self, id).await
    }

    async fn put_version(&self, put: &PutVersion, audit: AuditBatch<'_>) -> Result<()> {
        secrets::put_version(self, put, audit).await
    }

    async fn version(
        &self,
        vault_id: Uuid,
        path: &str,
        version: Option<i64>,
    ) -> Result<Option<(SecretRecord, VersionRecord)>> {
        secrets::version(self, vault_id, path, version).await
    }

    async fn consume_access(&self, secret_id: Uuid, version: i64, max: i64) -> Result<Option<i64>> {
        secrets::consume_access(self, secret_id, version, max).await
    }

    async fn list_secrets(&self, vault_id: Uuid, prefix: &str) -> Result<Vec<(SecretRecord, VersionMeta)>> {
        secrets::list_secrets(self, vault_id, prefix).await
    }

    async fn list_versions(&self, secret_id: Uuid) -> Result<Vec<VersionMeta>> {
        secrets::list_versions(self, secret_id).await
    }

    async fn change_version(
        &self,
        secret_id: Uuid,
        version: i64,
        change: VersionChange,
        at: OffsetDateTime,
        audit: AuditBatch<'_>,
    ) -> Result<bool> {
        secrets::change_version(self, secret_id, version, change, at, audit).await
    }

    async fn kv_settings(&self, vault_id: Uuid, path: &str) -> Result<Option<KvSettingsRecord>> {
        kv_settings::get(self, vault_id, path).await
    }

    async fn kv_settings_under(&self, vault_id: Uuid, prefix: &str) -> Result<Vec<KvSettingsRecord>> {
        kv_settings::under(self, vault_id, prefix).await
    }

    async fn put_kv_settings(&self, settings: &KvSettingsRecord, audit: AuditBatch<'_>) -> Result<()> {
        kv_settings::put(self, settings, audit).await
    }

    async fn delete_kv_settings(&self, vault_id: Uuid, path: &str, audit: AuditBatch<'_>) -> Result<bool> {
        kv_settings::delete(self, vault_id, path, audit).await
    }

    async fn set_secret_deleted(
        &self,
        secret_id: Uuid,
        deleted_at: Option<OffsetDateTime>,
        audit: AuditBatch<'_>,
    ) -> Result<bool> {
        secrets::set_secret_deleted(self, secret_id, deleted_at, audit).await
    }

    async fn append_audit(&self, batch: AuditBatch<'_>) -> Result<()> {
        if batch.events.is_empty() {
            return Ok(());
        }
        self.writer.audit(self.owned(batch)).await
    }

    async fn audit_head(&self) -> Result<Option<ChainHead>> {
        self.chain_all().await?;
        audit::head(self.pool()).await
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<(Vec<ChainedEvent>, u64)> {
        self.chain_all().await?;
        audit::list(self.pool(), filter).await
    }

    async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<ChainedEvent>> {
        self.chain_all().await?;
        audit::after(self.pool(), after_seq, limit).await
    }

    async fn ping(&self) -> Result<()> {
        crate::sql::query("SELECT 1").execute(self.pool()).await.map(|_| ()).map_err(crate::backend)
    }

    fn shared(&self) -> bool {
        true
    }

    async fn change_position(&self) -> Result<i64> {
        changes::position(self.pool()).await
    }

    async fn changes_since(&self, position: i64) -> Result<ChangeBatch> {
        changes::since(self.pool(), position).await
    }

    fn change_signal(&self) -> Option<Arc<Notify>> {
        Some(Arc::clone(&self.signal))
    }
}
