//! Rows to records. Ids are UUIDs, times TIMESTAMPTZ (microseconds, as the records keep them),
//! lists native arrays; a value that does not decode is reported as corrupt, by column.

use crate::sql::{Decode, Postgres, Row, Type};
use crate::sql::{PgQuery, PgRow};
use crate::{PgStore, backend};
use clawvault_core::audit::{AuditEvent, ChainedEvent, Outcome};
use clawvault_store::codec;
use clawvault_store::{
    AgentRecord, ApiKeyRecord, AuthRoleRecord, EnrollmentRecord, EnrollmentStatus, KvSettingsRecord, PolicyRecord,
    PrincipalKind, Result, Role, SecretRecord, SecretRequestRecord, ServerKeyRecord, ShareRecord, StoreError,
    UserRecord, VaultRecord, VersionMeta, VersionRecord,
};
use time::OffsetDateTime;

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(crate) fn get<'r, T: Decode<'r, Postgres> + Type<Postgres>>(row: &'r PgRow, col: &str) -> Result<T> {
    row.try_get(col).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

pub(crate) fn hash32(v: &[u8], what: &str) -> Result<[u8; 32]> {
    v.try_into().map_err(|_| corrupt(what))
}

pub(crate) fn server_key(row: &PgRow) -> Result<ServerKeyRecord> {
    Ok(ServerKeyRecord {
        name: get(row, "name")?,
        wrapped: get(row, "wrapped")?,
        root_key_id: get(row, "root_key_id")?,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn user(row: &PgRow) -> Result<UserRecord> {
    let role: String = get(row, "role")?;
    Ok(UserRecord {
        id: get(row, "id")?,
        name: get(row, "name")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("user role"))?,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn api_key(row: &PgRow) -> Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        name: get(row, "name")?,
        key_prefix: get(row, "key_prefix")?,
        key_hash: get(row, "key_hash")?,
        scopes: get(row, "scopes")?,
        is_active: get(row, "is_active")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        last_used_at: get(row, "last_used_at")?,
    })
}

pub(crate) fn vault(row: &PgRow) -> Result<VaultRecord> {
    Ok(VaultRecord {
        id: get(row, "id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        created_by: get(row, "created_by")?,
        created_by_type: codec::principal_kind(&get::<String>(row, "created_by_type")?, "vault creator kind")?,
        created_at: get(row, "created_at")?,
        wrapped_key: get(row, "wrapped_key")?,
        root_key_id: get(row, "root_key_id")?,
    })
}

/// Columns of `secrets s` as `s_*`.
pub(crate) const SECRET_COLUMNS: &str = "s.id AS s_id, s.vault_id AS s_vault_id, s.path AS s_path, \
     s.current_version AS s_current_version, s.created_by AS s_created_by, s.created_at AS s_created_at, \
     s.updated_at AS s_updated_at, s.deleted_at AS s_deleted_at, s.deleted_through AS s_deleted_through";

/// Columns of `secret_versions v` (without the ciphertext) as `v_*`.
pub(crate) const VERSION_COLUMNS: &str = "v.version AS v_version, v.secret_type AS v_secret_type, \
     v.metadata AS v_metadata, v.created_by AS v_created_by, v.created_at AS v_created_at, \
     v.expires_at AS v_expires_at, v.max_access_count AS v_max_access_count, v.access_count AS v_access_count, \
     v.is_disabled AS v_is_disabled, v.disabled_at AS v_disabled_at, v.destroyed AS v_destroyed";

pub(crate) fn secret(row: &PgRow) -> Result<SecretRecord> {
    Ok(SecretRecord {
        id: get(row, "s_id")?,
        vault_id: get(row, "s_vault_id")?,
        path: get(row, "s_path")?,
        current_version: get(row, "s_current_version")?,
        created_by: get(row, "s_created_by")?,
        created_at: get(row, "s_created_at")?,
        updated_at: get(row, "s_updated_at")?,
        deleted_at: get(row, "s_deleted_at")?,
        deleted_through: get(row, "s_deleted_through")?,
    })
}

pub(crate) fn version_meta(row: &PgRow) -> Result<VersionMeta> {
    let ty: String = get(row, "v_secret_type")?;
    Ok(VersionMeta {
        version: get(row, "v_version")?,
        secret_type: ty.parse().map_err(|_| corrupt("secret type"))?,
        metadata: get(row, "v_metadata")?,
        created_by: get(row, "v_created_by")?,
        created_at: get(row, "v_created_at")?,
        expires_at: get(row, "v_expires_at")?,
        max_access_count: get(row, "v_max_access_count")?,
        access_count: get(row, "v_access_count")?,
        is_disabled: get(row, "v_is_disabled")?,
        disabled_at: get(row, "v_disabled_at")?,
        destroyed: get(row, "v_destroyed")?,
    })
}

pub(crate) fn secret_and_meta(row: &PgRow) -> Result<(SecretRecord, VersionMeta)> {
    Ok((secret(row)?, version_meta(row)?))
}

pub(crate) fn secret_and_version(row: &PgRow) -> Result<(SecretRecord, VersionRecord)> {
    Ok((secret(row)?, VersionRecord { meta: version_meta(row)?, ciphertext: get(row, "v_ciphertext")? }))
}

/// An event's time as read: a time no `OffsetDateTime` can hold (`'infinity'`, on whose
/// decoding sqlx panics) reads as NULL, which no server writes.
pub(crate) const EVENT_TIME: &str =
    "CASE WHEN created_at > '0001-01-01' AND created_at < '9999-01-01' THEN created_at END AS created_at";

/// The columns of `audit_events` as [`chained_event`] reads them.
pub(crate) fn event_columns() -> String {
    format!(
        "seq, id, {EVENT_TIME}, action, outcome, actor_type, actor_id, resource_type, resource_id, vault_id, \
         ip_address, details, prev_hash, hash"
    )
}

/// The event of a row of `audit_events` or `audit_inbox` (its time read as [`EVENT_TIME`]),
/// and whether its outcome and time are ones a server writes: if not, they read as stand-ins.
fn stored_event(row: &PgRow) -> Result<(AuditEvent, bool)> {
    let outcome: String = get(row, "outcome")?;
    let created_at: Option<OffsetDateTime> = get(row, "created_at")?;
    let outcome = Outcome::parse(&outcome);
    let readable = outcome.is_some() && created_at.is_some();
    let event = AuditEvent {
        id: get(row, "id")?,
        created_at: created_at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
        action: get(row, "action")?,
        outcome: outcome.unwrap_or(Outcome::Failure),
        actor_type: get(row, "actor_type")?,
        actor_id: get(row, "actor_id")?,
        resource_type: get(row, "resource_type")?,
        resource_id: get(row, "resource_id")?,
        vault_id: get(row, "vault_id")?,
        ip_address: get(row, "ip_address")?,
        details: get(row, "details")?,
    };
    Ok((event, readable))
}

/// The event of a row of `audit_inbox`; an outcome or time no server writes is an error.
pub(crate) fn audit_event(row: &PgRow) -> Result<AuditEvent> {
    match stored_event(row)? {
        (event, true) => Ok(event),
        (_, false) => Err(corrupt("audit event outcome or time")),
    }
}

/// A row of `audit_events` (read with [`event_columns`]). One whose outcome or time no server
/// writes is marked, so that verification names it as edited instead of stopping at it.
pub(crate) fn chained_event(row: &PgRow) -> Result<ChainedEvent> {
    let prev: Vec<u8> = get(row, "prev_hash")?;
    let hash: Vec<u8> = get(row, "hash")?;
    let (event, readable) = stored_event(row)?;
    let mut chained = ChainedEvent {
        seq: get(row, "seq")?,
        event,
        prev_hash: hash32(&prev, "audit prev_hash")?,
        hash: hash32(&hash, "audit hash")?,
    };
    if !readable {
        chained.mark_unreadable();
    }
    Ok(chained)
}

pub(crate) fn agent(row: &PgRow) -> Result<AgentRecord> {
    Ok(AgentRecord {
        id: get(row, "id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        created_by: get(row, "created_by")?,
        key_hash: get(row, "key_hash")?,
        key_prefix: get(row, "key_prefix")?,
        key_expires_at: get(row, "key_expires_at")?,
        is_active: get(row, "is_active")?,
        token_ttl_seconds: get(row, "token_ttl_seconds")?,
        vault_ids: get(row, "vault_ids")?,
        scopes: get(row, "scopes")?,
        expires_at: get(row, "expires_at")?,
        not_before: get(row, "not_before")?,
        token_generation: get(row, "token_generation")?,
        auth_method: get(row, "auth_method")?,
        intents_api_enabled: get(row, "intents_api_enabled")?,
        shroud_enabled: get(row, "shroud_enabled")?,
        created_at: get(row, "created_at")?,
        last_active_at: get(row, "last_active_at")?,
    })
}

pub(crate) fn policy(row: &PgRow) -> Result<PolicyRecord> {
    let kind: String = get(row, "principal_kind")?;
    Ok(PolicyRecord {
        id: get(row, "id")?,
        vault_id: get(row, "vault_id")?,
        principal_kind: PrincipalKind::parse(&kind).ok_or_else(|| corrupt("policy principal kind"))?,
        principal_id: get(row, "principal_id")?,
        secret_path_pattern: get(row, "secret_path_pattern")?,
        permissions: codec::permissions(&get::<Vec<String>>(row, "permissions")?)?,
        effect: codec::effect(&get::<String>(row, "effect")?)?,
        conditions: codec::conditions(&get::<String>(row, "conditions")?)?,
        priority: get(row, "priority")?,
        expires_at: get(row, "expires_at")?,
        created_by: get(row, "created_by")?,
        created_by_type: codec::principal_kind(&get::<String>(row, "created_by_type")?, "policy author kind")?,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn share(row: &PgRow) -> Result<ShareRecord> {
    Ok(ShareRecord {
        id: get(row, "id")?,
        secret_id: get(row, "secret_id")?,
        vault_id: get(row, "vault_id")?,
        secret_path: get(row, "secret_path")?,
        secret_version: get(row, "secret_version")?,
        sealed_id: get(row, "sealed_id")?,
        created_by: get(row, "created_by")?,
        created_by_type: codec::principal_kind(&get::<String>(row, "created_by_type")?, "share creator kind")?,
        created_with_key: get(row, "created_with_key")?,
        recipient_type: codec::recipient_type(&get::<String>(row, "recipient_type")?)?,
        recipient_id: get(row, "recipient_id")?,
        recipient_email: get(row, "recipient_email")?,
        passphrase_hash: get(row, "passphrase_hash")?,
        expires_at: get(row, "expires_at")?,
        max_access_count: get(row, "max_access_count")?,
        access_count: get(row, "access_count")?,
        ip_allowlist: get(row, "ip_allowlist")?,
        accepted: get(row, "accepted")?,
        declined: get(row, "declined")?,
        revoked: get(row, "revoked")?,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn auth_role(row: &PgRow) -> Result<AuthRoleRecord> {
    Ok(AuthRoleRecord {
        id: get(row, "id")?,
        method: get(row, "method")?,
        name: get(row, "name")?,
        agent_id: get(row, "agent_id")?,
        bindings: get(row, "bindings")?,
        secret_hash: get(row, "secret_hash")?,
        token_ttl_seconds: get(row, "token_ttl_seconds")?,
        created_by: get(row, "created_by")?,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn kv_settings(row: &PgRow) -> Result<KvSettingsRecord> {
    Ok(KvSettingsRecord {
        vault_id: get(row, "vault_id")?,
        path: get(row, "path")?,
        settings: get(row, "settings")?,
        updated_at: get(row, "updated_at")?,
    })
}

pub(crate) fn secret_request(row: &PgRow) -> Result<SecretRequestRecord> {
    Ok(SecretRequestRecord {
        id: get(row, "id")?,
        vault_id: get(row, "vault_id")?,
        path: get(row, "path")?,
        secret_type: get::<String>(row, "secret_type")?.parse().map_err(|_| corrupt("secret request type"))?,
        description: get(row, "description")?,
        requested_by: get(row, "requested_by")?,
        requested_by_type: codec::principal_kind(&get::<String>(row, "requested_by_type")?, "secret requester kind")?,
        requested_with_key: get(row, "requested_with_key")?,
        requested_generation: get(row, "requested_generation")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        used_at: get(row, "used_at")?,
    })
}

pub(crate) fn enrollment(row: &PgRow) -> Result<EnrollmentRecord> {
    let status: String = get(row, "status")?;
    Ok(EnrollmentRecord {
        id: get(row, "id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        public_key: get(row, "public_key")?,
        fingerprint: get(row, "fingerprint")?,
        poll_token_hash: get(row, "poll_token_hash")?,
        status: EnrollmentStatus::parse(&status).ok_or_else(|| corrupt("enrollment status"))?,
        agent_id: get(row, "agent_id")?,
        sealed_key: get(row, "sealed_key")?,
        decided_by: get(row, "decided_by")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
    })
}

/// Decodes every row.
pub(crate) fn all<T>(rows: &[PgRow], f: impl Fn(&PgRow) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(f).collect()
}

/// Runs a query for at most one row and decodes it.
pub(crate) async fn one<T>(s: &PgStore, q: PgQuery<'_>, f: impl Fn(&PgRow) -> Result<T>) -> Result<Option<T>> {
    q.fetch_optional(s.pool()).await.map_err(backend)?.as_ref().map(f).transpose()
}

/// Runs a query and decodes every row.
pub(crate) async fn many<T>(s: &PgStore, q: PgQuery<'_>, f: impl Fn(&PgRow) -> Result<T>) -> Result<Vec<T>> {
    all(&q.fetch_all(s.pool()).await.map_err(backend)?, f)
}
