//! Conversions between stored columns and records: timestamps are INTEGER microseconds since
//! the epoch, ids are 16-byte BLOBs, booleans are 0/1.

use clawvault_core::audit::{AuditEvent, ChainedEvent, Outcome};
use clawvault_core::time_util::unix_micros;
use clawvault_store::codec;
use clawvault_store::{
    AgentRecord, ApiKeyRecord, AuthRoleRecord, EnrollmentRecord, EnrollmentStatus, KvSettingsRecord, PolicyRecord,
    PrincipalKind, Result, Role, SecretRecord, SecretRequestRecord, ServerKeyRecord, ShareRecord, StoreError,
    UserRecord, VaultRecord, VersionMeta, VersionRecord,
};
use rusqlite::Row;
use rusqlite::types::FromSql;
use time::OffsetDateTime;

pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    unix_micros(t)
}

pub(crate) fn opt_micros(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(micros)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(crate) fn time(v: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000).map_err(|_| corrupt("timestamp out of range"))
}

fn opt_time(v: Option<i64>) -> Result<Option<OffsetDateTime>> {
    v.map(time).transpose()
}

pub(crate) fn get<T: FromSql>(row: &Row<'_>, col: &str) -> Result<T> {
    row.get(col).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

pub(crate) fn hash32(v: &[u8], what: &str) -> Result<[u8; 32]> {
    v.try_into().map_err(|_| corrupt(what))
}

/// Runs a row decoder inside rusqlite's row callback, keeping our error type.
pub(crate) fn decode<T>(f: impl Fn(&Row<'_>) -> Result<T>) -> impl Fn(&Row<'_>) -> rusqlite::Result<Result<T>> {
    move |row| Ok(f(row))
}

pub(crate) fn server_key(row: &Row<'_>) -> Result<ServerKeyRecord> {
    Ok(ServerKeyRecord {
        name: get(row, "name")?,
        wrapped: get(row, "wrapped")?,
        root_key_id: get(row, "root_key_id")?,
        created_at: time(get(row, "created_at")?)?,
    })
}

pub(crate) fn user(row: &Row<'_>) -> Result<UserRecord> {
    let role: String = get(row, "role")?;
    Ok(UserRecord {
        id: get(row, "id")?,
        name: get(row, "name")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("user role"))?,
        created_at: time(get(row, "created_at")?)?,
    })
}

pub(crate) fn api_key(row: &Row<'_>) -> Result<ApiKeyRecord> {
    let scopes: String = get(row, "scopes")?;
    Ok(ApiKeyRecord {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        name: get(row, "name")?,
        key_prefix: get(row, "key_prefix")?,
        key_hash: get(row, "key_hash")?,
        scopes: serde_json::from_str(&scopes).map_err(|_| corrupt("api key scopes"))?,
        is_active: get::<i64>(row, "is_active")? != 0,
        created_at: time(get(row, "created_at")?)?,
        expires_at: opt_time(get(row, "expires_at")?)?,
        last_used_at: opt_time(get(row, "last_used_at")?)?,
    })
}

pub(crate) fn vault(row: &Row<'_>) -> Result<VaultRecord> {
    Ok(VaultRecord {
        id: get(row, "id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        created_by: get(row, "created_by")?,
        created_by_type: codec::principal_kind(&get::<String>(row, "created_by_type")?, "vault creator kind")?,
        created_at: time(get(row, "created_at")?)?,
        wrapped_key: get(row, "wrapped_key")?,
        root_key_id: get(row, "root_key_id")?,
    })
}

/// Columns of `secrets s` as `s_*` aliases (a macro so that `concat!` builds static SQL).
macro_rules! secret_columns {
    () => {
        "s.id AS s_id, s.vault_id AS s_vault_id, s.path AS s_path, s.current_version AS s_current_version, \
         s.created_by AS s_created_by, s.created_at AS s_created_at, s.updated_at AS s_updated_at, \
         s.deleted_at AS s_deleted_at, s.deleted_through AS s_deleted_through"
    };
}

/// Columns of `secret_versions v` (without ciphertext) as `v_*` aliases.
macro_rules! version_columns {
    () => {
        "v.version AS v_version, v.secret_type AS v_secret_type, v.metadata AS v_metadata, \
         v.created_by AS v_created_by, v.created_at AS v_created_at, v.expires_at AS v_expires_at, \
         v.max_access_count AS v_max_access_count, v.access_count AS v_access_count, \
         v.is_disabled AS v_is_disabled, v.disabled_at AS v_disabled_at, v.destroyed AS v_destroyed"
    };
}
pub(crate) use {secret_columns, version_columns};

pub(crate) fn secret(row: &Row<'_>) -> Result<SecretRecord> {
    Ok(SecretRecord {
        id: get(row, "s_id")?,
        vault_id: get(row, "s_vault_id")?,
        path: get(row, "s_path")?,
        current_version: get(row, "s_current_version")?,
        created_by: get(row, "s_created_by")?,
        created_at: time(get(row, "s_created_at")?)?,
        updated_at: time(get(row, "s_updated_at")?)?,
        deleted_at: opt_time(get(row, "s_deleted_at")?)?,
        deleted_through: get(row, "s_deleted_through")?,
    })
}

pub(crate) fn version_meta(row: &Row<'_>) -> Result<VersionMeta> {
    let ty: String = get(row, "v_secret_type")?;
    Ok(VersionMeta {
        version: get(row, "v_version")?,
        secret_type: ty.parse().map_err(|_| corrupt("secret type"))?,
        metadata: get(row, "v_metadata")?,
        created_by: get(row, "v_created_by")?,
        created_at: time(get(row, "v_created_at")?)?,
        expires_at: opt_time(get(row, "v_expires_at")?)?,
        max_access_count: get(row, "v_max_access_count")?,
        access_count: get(row, "v_access_count")?,
        is_disabled: get::<i64>(row, "v_is_disabled")? != 0,
        disabled_at: opt_time(get(row, "v_disabled_at")?)?,
        destroyed: get::<i64>(row, "v_destroyed")? != 0,
    })
}

pub(crate) fn version(row: &Row<'_>) -> Result<VersionRecord> {
    Ok(VersionRecord { meta: version_meta(row)?, ciphertext: get(row, "v_ciphertext")? })
}

pub(crate) fn secret_and_meta(row: &Row<'_>) -> Result<(SecretRecord, VersionMeta)> {
    Ok((secret(row)?, version_meta(row)?))
}

pub(crate) fn secret_and_version(row: &Row<'_>) -> Result<(SecretRecord, VersionRecord)> {
    Ok((secret(row)?, version(row)?))
}

/// A stored event's outcome and time, and whether both are ones a server writes. If not, they
/// read as stand-ins and the event is to be marked (`ChainedEvent::mark_unreadable`), so that
/// verification names it instead of stopping at it.
pub(crate) fn stored(outcome: &str, at: i64) -> (Outcome, OffsetDateTime, bool) {
    match (Outcome::parse(outcome), time(at)) {
        (Some(outcome), Ok(at)) => (outcome, at, true),
        (outcome, at) => (outcome.unwrap_or(Outcome::Failure), at.unwrap_or(OffsetDateTime::UNIX_EPOCH), false),
    }
}

pub(crate) fn chained_event(row: &Row<'_>) -> Result<ChainedEvent> {
    let outcome: String = get(row, "outcome")?;
    let prev: Vec<u8> = get(row, "prev_hash")?;
    let hash: Vec<u8> = get(row, "hash")?;
    let (outcome, created_at, readable) = stored(&outcome, get(row, "created_at")?);
    let mut event = ChainedEvent {
        seq: get(row, "seq")?,
        event: AuditEvent {
            id: get(row, "id")?,
            created_at,
            action: get(row, "action")?,
            outcome,
            actor_type: get(row, "actor_type")?,
            actor_id: get(row, "actor_id")?,
            resource_type: get(row, "resource_type")?,
            resource_id: get(row, "resource_id")?,
            vault_id: get(row, "vault_id")?,
            ip_address: get(row, "ip_address")?,
            details: get(row, "details")?,
        },
        prev_hash: hash32(&prev, "audit prev_hash")?,
        hash: hash32(&hash, "audit hash")?,
    };
    if !readable {
        event.mark_unreadable();
    }
    Ok(event)
}

fn json_list<T: serde::de::DeserializeOwned>(row: &Row<'_>, col: &str) -> Result<Vec<T>> {
    let text: String = get(row, col)?;
    serde_json::from_str(&text).map_err(|_| StoreError::Corrupt(format!("column {col} is not a JSON list")))
}

pub(crate) fn agent(row: &Row<'_>) -> Result<AgentRecord> {
    Ok(AgentRecord {
        id: get(row, "id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        created_by: get(row, "created_by")?,
        key_hash: get(row, "key_hash")?,
        key_prefix: get(row, "key_prefix")?,
        key_expires_at: opt_time(get(row, "key_expires_at")?)?,
        is_active: get::<i64>(row, "is_active")? != 0,
        token_ttl_seconds: get(row, "token_ttl_seconds")?,
        vault_ids: json_list(row, "vault_ids")?,
        scopes: json_list(row, "scopes")?,
        expires_at: opt_time(get(row, "expires_at")?)?,
        not_before: opt_time(get(row, "not_before")?)?,
        token_generation: get(row, "token_generation")?,
        auth_method: get(row, "auth_method")?,
        intents_api_enabled: get::<i64>(row, "intents_api_enabled")? != 0,
        shroud_enabled: get::<i64>(row, "shroud_enabled")? != 0,
        created_at: time(get(row, "created_at")?)?,
        last_active_at: opt_time(get(row, "last_active_at")?)?,
    })
}

pub(crate) fn policy(row: &Row<'_>) -> Result<PolicyRecord> {
    let kind: String = get(row, "principal_kind")?;
    Ok(PolicyRecord {
        id: get(row, "id")?,
        vault_id: get(row, "vault_id")?,
        principal_kind: PrincipalKind::parse(&kind).ok_or_else(|| corrupt("policy principal kind"))?,
        principal_id: get(row, "principal_id")?,
        secret_path_pattern: get(row, "secret_path_pattern")?,
        permissions: codec::permissions(&json_list::<String>(row, "permissions")?)?,
        effect: codec::effect(&get::<String>(row, "effect")?)?,
        conditions: codec::conditions(&get::<String>(row, "conditions")?)?,
        priority: get(row, "priority")?,
        expires_at: opt_time(get(row, "expires_at")?)?,
        created_by: get(row, "created_by")?,
        created_by_type: codec::principal_kind(&get::<String>(row, "created_by_type")?, "policy author kind")?,
        created_at: time(get(row, "created_at")?)?,
    })
}

pub(crate) fn share(row: &Row<'_>) -> Result<ShareRecord> {
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
        expires_at: time(get(row, "expires_at")?)?,
        max_access_count: get(row, "max_access_count")?,
        access_count: get(row, "access_count")?,
        ip_allowlist: json_list(row, "ip_allowlist")?,
        accepted: get::<i64>(row, "accepted")? != 0,
        declined: get::<i64>(row, "declined")? != 0,
        revoked: get::<i64>(row, "revoked")? != 0,
        created_at: time(get(row, "created_at")?)?,
    })
}

pub(crate) fn auth_role(row: &Row<'_>) -> Result<AuthRoleRecord> {
    Ok(AuthRoleRecord {
        id: get(row, "id")?,
        method: get(row, "method")?,
        name: get(row, "name")?,
        agent_id: get(row, "agent_id")?,
        bindings: get(row, "bindings")?,
        secret_hash: get(row, "secret_hash")?,
        token_ttl_seconds: get(row, "token_ttl_seconds")?,
        created_by: get(row, "created_by")?,
        created_at: time(get(row, "created_at")?)?,
    })
}

pub(crate) fn kv_settings(row: &Row<'_>) -> Result<KvSettingsRecord> {
    Ok(KvSettingsRecord {
        vault_id: get(row, "vault_id")?,
        path: get(row, "path")?,
        settings: get(row, "settings")?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}

pub(crate) fn secret_request(row: &Row<'_>) -> Result<SecretRequestRecord> {
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
        created_at: time(get(row, "created_at")?)?,
        expires_at: time(get(row, "expires_at")?)?,
        used_at: get::<Option<i64>>(row, "used_at")?.map(time).transpose()?,
    })
}

pub(crate) fn enrollment(row: &Row<'_>) -> Result<EnrollmentRecord> {
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
        created_at: time(get(row, "created_at")?)?,
        expires_at: time(get(row, "expires_at")?)?,
    })
}

/// A list as stored (JSON text).
pub(crate) fn to_json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}
