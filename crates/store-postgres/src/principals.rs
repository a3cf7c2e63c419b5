//! Server keys, users and their API keys, agents, enrollments and revoked tokens.

use crate::sql;
use clawvault_store::{
    AgentRecord, ApiKeyRecord, AuditBatch, Change, EnrollmentRecord, EnrollmentStatus, Result, ServerKeyRecord,
    StoreError, UserDeletion, UserRecord,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rows;
use crate::{PgStore, audit, backend, changes, conflict_on_unique};

pub(crate) async fn server_key(s: &PgStore, name: &str) -> Result<Option<ServerKeyRecord>> {
    rows::one(s, sql::query("SELECT * FROM server_keys WHERE name = $1").bind(name), rows::server_key).await
}

pub(crate) async fn insert_server_key(s: &PgStore, key: ServerKeyRecord) -> Result<ServerKeyRecord> {
    let name = key.name.clone();
    s.write(move |tx| {
        Box::pin(async move {
            let inserted = sql::query(
                "INSERT INTO server_keys (name, wrapped, root_key_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(&key.name)
            .bind(&key.wrapped)
            .bind(&key.root_key_id)
            .bind(key.created_at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() > 0 {
                changes::record(&mut *tx, &[Change::ServerKeys]).await?;
            }
            Ok(())
        })
    })
    .await?;
    server_key(s, &name).await?.ok_or(StoreError::Corrupt("server key vanished".into()))
}

pub(crate) async fn server_keys(s: &PgStore, prefix: &str) -> Result<Vec<ServerKeyRecord>> {
    rows::many(
        s,
        sql::query("SELECT * FROM server_keys WHERE starts_with(name, $1) ORDER BY created_at, name").bind(prefix),
        rows::server_key,
    )
    .await
}

pub(crate) async fn create_user(s: &PgStore, user: &UserRecord, batch: AuditBatch<'_>) -> Result<()> {
    let insert = sql::query("INSERT INTO users (id, name, role, created_at) VALUES ($1, $2, $3, $4)")
        .bind(user.id)
        .bind(user.name.clone())
        .bind(user.role.as_str())
        .bind(user.created_at);
    s.audited(vec![insert], "a user with that name exists", batch).await.map(|_| ())
}

pub(crate) async fn user(s: &PgStore, id: Uuid) -> Result<Option<UserRecord>> {
    rows::one(s, sql::query("SELECT * FROM users WHERE id = $1").bind(id), rows::user).await
}

pub(crate) async fn count_users(s: &PgStore) -> Result<u64> {
    let n: i64 = sql::query_scalar("SELECT COUNT(*) FROM users").fetch_one(s.pool()).await.map_err(backend)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) async fn list_users(s: &PgStore) -> Result<Vec<UserRecord>> {
    rows::many(s, sql::query("SELECT * FROM users ORDER BY created_at, id"), rows::user).await
}

pub(crate) async fn delete_user(
    s: &PgStore,
    id: Uuid,
    at: OffsetDateTime,
    batch: AuditBatch<'_>,
) -> Result<UserDeletion> {
    let batch = s.owned(batch);
    s.write(move |tx| {
        Box::pin(async move {
            // The batch holds the change head's lock, which every batch of writes of every
            // server takes first: no other write is in flight, so the count below is the
            // committed truth.
            let deleted = sql::query(
                "DELETE FROM users WHERE id = $1 \
                 AND (role <> 'admin' OR (SELECT count(*) FROM users WHERE role = 'admin') > 1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected()
                > 0;
            if !deleted {
                let exists = sql::query("SELECT 1 FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?
                    .is_some();
                return Ok(if exists { UserDeletion::LastAdmin } else { UserDeletion::NotFound });
            }
            sql::query("DELETE FROM policies WHERE principal_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            let deactivated: Vec<Uuid> = sql::query_scalar(
                "UPDATE agents SET is_active = FALSE, not_before = $1, token_generation = token_generation + 1 \
                 WHERE created_by = $2 AND is_active RETURNING id",
            )
            .bind(at)
            .bind(id)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
            audit::append(&mut *tx, &batch).await?;
            Ok(UserDeletion::Deleted { deactivated })
        })
    })
    .await
}

pub(crate) async fn create_api_key(s: &PgStore, key: &ApiKeyRecord, batch: AuditBatch<'_>) -> Result<()> {
    let key = key.clone();
    let insert = sql::query(
        "INSERT INTO api_keys (id, user_id, name, key_prefix, key_hash, scopes, is_active, created_at, expires_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(key.id)
    .bind(key.user_id)
    .bind(key.name)
    .bind(key.key_prefix)
    .bind(key.key_hash)
    .bind(key.scopes)
    .bind(key.is_active)
    .bind(key.created_at)
    .bind(key.expires_at)
    .bind(key.last_used_at);
    s.audited(vec![insert], "that API key exists", batch).await.map(|_| ())
}

pub(crate) async fn api_key(s: &PgStore, id: Uuid) -> Result<Option<ApiKeyRecord>> {
    rows::one(s, sql::query("SELECT * FROM api_keys WHERE id = $1").bind(id), rows::api_key).await
}

pub(crate) async fn api_key_by_hash(s: &PgStore, hash: &[u8]) -> Result<Option<ApiKeyRecord>> {
    rows::one(s, sql::query("SELECT * FROM api_keys WHERE key_hash = $1").bind(hash), rows::api_key).await
}

pub(crate) async fn list_api_keys(s: &PgStore, user_id: Uuid) -> Result<Vec<ApiKeyRecord>> {
    rows::many(
        s,
        sql::query("SELECT * FROM api_keys WHERE user_id = $1 ORDER BY created_at, id").bind(user_id),
        rows::api_key,
    )
    .await
}

pub(crate) async fn delete_api_key(s: &PgStore, user_id: Uuid, key_id: Uuid, batch: AuditBatch<'_>) -> Result<bool> {
    let delete = sql::query("DELETE FROM api_keys WHERE id = $1 AND user_id = $2").bind(key_id).bind(user_id);
    Ok(s.audited(vec![delete], "", batch).await? > 0)
}

pub(crate) async fn touch(s: &PgStore, statement: &'static str, id: Uuid, at: OffsetDateTime) -> Result<()> {
    sql::query(statement).bind(at).bind(id).execute(s.pool()).await.map(|_| ()).map_err(backend)
}

const AGENT_IN_USE: &str = "that agent key is already in use";

fn insert_agent(a: AgentRecord) -> sql::PgQuery<'static> {
    sql::query(
        "INSERT INTO agents (id, name, description, created_by, key_hash, key_prefix, key_expires_at, is_active, \
         token_ttl_seconds, vault_ids, scopes, expires_at, not_before, token_generation, auth_method, intents_api_enabled, \
         shroud_enabled, created_at, last_active_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
    )
    .bind(a.id)
    .bind(a.name)
    .bind(a.description)
    .bind(a.created_by)
    .bind(a.key_hash)
    .bind(a.key_prefix)
    .bind(a.key_expires_at)
    .bind(a.is_active)
    .bind(a.token_ttl_seconds)
    .bind(a.vault_ids)
    .bind(a.scopes)
    .bind(a.expires_at)
    .bind(a.not_before)
    .bind(a.token_generation)
    .bind(a.auth_method)
    .bind(a.intents_api_enabled)
    .bind(a.shroud_enabled)
    .bind(a.created_at)
    .bind(a.last_active_at)
}

pub(crate) async fn create_agent(s: &PgStore, agent: &AgentRecord, batch: AuditBatch<'_>) -> Result<()> {
    s.audited(vec![insert_agent(agent.clone())], AGENT_IN_USE, batch).await.map(|_| ())
}

pub(crate) async fn agent(s: &PgStore, id: Uuid) -> Result<Option<AgentRecord>> {
    rows::one(s, sql::query("SELECT * FROM agents WHERE id = $1").bind(id), rows::agent).await
}

pub(crate) async fn agent_by_key_hash(s: &PgStore, hash: &[u8]) -> Result<Option<AgentRecord>> {
    rows::one(s, sql::query("SELECT * FROM agents WHERE key_hash = $1").bind(hash), rows::agent).await
}

pub(crate) async fn list_agents(s: &PgStore) -> Result<Vec<AgentRecord>> {
    rows::many(s, sql::query("SELECT * FROM agents ORDER BY created_at, id"), rows::agent).await
}

pub(crate) async fn update_agent(s: &PgStore, a: &AgentRecord, batch: AuditBatch<'_>) -> Result<bool> {
    let a = a.clone();
    let id = a.id;
    let update = sql::query(
        "UPDATE agents SET name = $1, description = $2, key_hash = $3, key_prefix = $4, key_expires_at = $5, \
         is_active = $6, token_ttl_seconds = $7, vault_ids = $8, scopes = $9, expires_at = $10, not_before = $11, \
         token_generation = GREATEST(token_generation, $12), auth_method = $13, intents_api_enabled = $14, \
         shroud_enabled = $15, last_active_at = $16 WHERE id = $17",
    )
    .bind(a.name)
    .bind(a.description)
    .bind(a.key_hash)
    .bind(a.key_prefix)
    .bind(a.key_expires_at)
    .bind(a.is_active)
    .bind(a.token_ttl_seconds)
    .bind(a.vault_ids)
    .bind(a.scopes)
    .bind(a.expires_at)
    .bind(a.not_before)
    .bind(a.token_generation)
    .bind(a.auth_method)
    .bind(a.intents_api_enabled)
    .bind(a.shroud_enabled)
    .bind(a.last_active_at)
    .bind(id);
    Ok(s.audited(vec![update], AGENT_IN_USE, batch).await? > 0)
}

pub(crate) async fn delete_agent(s: &PgStore, id: Uuid, batch: AuditBatch<'_>) -> Result<bool> {
    let delete = sql::query("DELETE FROM agents WHERE id = $1").bind(id);
    let policies = sql::query("DELETE FROM policies WHERE principal_id = $1").bind(id);
    Ok(s.audited(vec![delete, policies], "", batch).await? > 0)
}

pub(crate) async fn create_enrollment(s: &PgStore, e: &EnrollmentRecord, batch: AuditBatch<'_>) -> Result<()> {
    let e = e.clone();
    let insert = sql::query(
        "INSERT INTO enrollments (id, name, description, public_key, fingerprint, poll_token_hash, status, agent_id, \
         sealed_key, decided_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(e.id)
    .bind(e.name)
    .bind(e.description)
    .bind(e.public_key)
    .bind(e.fingerprint)
    .bind(e.poll_token_hash)
    .bind(e.status.as_str())
    .bind(e.agent_id)
    .bind(e.sealed_key)
    .bind(e.decided_by)
    .bind(e.created_at)
    .bind(e.expires_at);
    s.audited(vec![insert], "that enrollment exists", batch).await.map(|_| ())
}

pub(crate) async fn enrollment(s: &PgStore, id: Uuid) -> Result<Option<EnrollmentRecord>> {
    rows::one(s, sql::query("SELECT * FROM enrollments WHERE id = $1").bind(id), rows::enrollment).await
}

pub(crate) async fn pending_enrollments(s: &PgStore, now: OffsetDateTime) -> Result<Vec<EnrollmentRecord>> {
    rows::many(
        s,
        sql::query("SELECT * FROM enrollments WHERE status = 'pending' AND expires_at > $1 ORDER BY created_at")
            .bind(now),
        rows::enrollment,
    )
    .await
}

pub(crate) async fn decide_enrollment(
    s: &PgStore,
    id: Uuid,
    decided_by: Uuid,
    approved: Option<(&AgentRecord, Vec<u8>)>,
    batch: AuditBatch<'_>,
) -> Result<()> {
    let approved = approved.map(|(a, k)| (a.clone(), k));
    let batch = s.owned(batch);
    s.write(move |tx| {
        Box::pin(async move {
            let (status, agent_id, sealed) = match approved {
                Some((agent, key)) => {
                    let id = agent.id;
                    insert_agent(agent).execute(&mut *tx).await.map_err(conflict_on_unique(AGENT_IN_USE))?;
                    (EnrollmentStatus::Approved, Some(id), Some(key))
                }
                None => (EnrollmentStatus::Denied, None, None),
            };
            let changed = sql::query(
                "UPDATE enrollments SET status = $1, agent_id = $2, sealed_key = $3, decided_by = $4 \
                 WHERE id = $5 AND status = 'pending'",
            )
            .bind(status.as_str())
            .bind(agent_id)
            .bind(sealed)
            .bind(decided_by)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            if changed.rows_affected() == 0 {
                return Err(StoreError::Conflict("the enrollment is no longer pending"));
            }
            audit::append(&mut *tx, &batch).await?;
            Ok(())
        })
    })
    .await
}

pub(crate) async fn take_enrollment_key(s: &PgStore, id: Uuid) -> Result<Option<Vec<u8>>> {
    // One statement: of two servers taking the key at once, the second finds it cleared.
    let key: Option<Option<Vec<u8>>> = sql::query_scalar(
        "UPDATE enrollments e SET sealed_key = NULL FROM (SELECT id, sealed_key FROM enrollments \
         WHERE id = $1 AND status = 'approved' AND sealed_key IS NOT NULL FOR UPDATE) old \
         WHERE e.id = old.id RETURNING old.sealed_key",
    )
    .bind(id)
    .fetch_optional(s.pool())
    .await
    .map_err(backend)?;
    Ok(key.flatten())
}

pub(crate) async fn revoke_token(
    s: &PgStore,
    jti: &str,
    expires_at: OffsetDateTime,
    batch: AuditBatch<'_>,
) -> Result<()> {
    let jti = jti.to_owned();
    let batch = s.owned(batch);
    s.write(move |tx| {
        Box::pin(async move {
            sql::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                .bind(jti.clone())
                .bind(expires_at)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            audit::append(&mut *tx, &batch).await?;
            Ok(())
        })
    })
    .await
}

pub(crate) async fn revoked_tokens(s: &PgStore, now: OffsetDateTime) -> Result<Vec<String>> {
    sql::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
        .bind(now)
        .execute(s.pool())
        .await
        .map_err(backend)?;
    sql::query_scalar("SELECT jti FROM revoked_tokens WHERE expires_at >= $1")
        .bind(now)
        .fetch_all(s.pool())
        .await
        .map_err(backend)
}
