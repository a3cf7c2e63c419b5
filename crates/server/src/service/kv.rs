//! What Vault's KV v2 engine adds to a secret: per-key settings (`max_versions`,
//! `cas_required`, `delete_version_after`, `custom_metadata`) that may exist before the first
//! version, versions deleted, undeleted and destroyed one by one, and keys listed with the
//! settings-only ones among them. The rules live here so that any surface offering KV gets
//! them; the Vault API is the one that does today.
//!
//! Deleting a version disables it (kept, unreadable, undeletable); destroying erases its
//! ciphertext for good. Deleting a key soft-deletes the secret (an admin can restore it, as
//! after any clawvault deletion) and forgets its settings: nothing a client does here loses a
//! value for good except a destroy, which says so.

use std::collections::BTreeMap;

use clawvault_core::SecretPath;
use clawvault_core::action::Action;
use clawvault_core::policy::Permission;
use clawvault_core::scope::Scope;
use clawvault_core::time_util::now;
use clawvault_store::{AuditBatch, KvSettingsRecord, SecretEventKind, SecretRecord, VersionChange, VersionMeta};
use serde::{Deserialize, Serialize};

use super::access;
use super::secrets::{OpenedVersion, SecretVersion, locate, secret_changed, secret_event};
use crate::auth::Caller;
use crate::changes;
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use crate::state::{AppState, OpenVault};

/// Longest `delete_version_after`: 100 years, in seconds.
pub const MAX_DELETE_VERSION_AFTER: i64 = 100 * 365 * 86_400;
/// Most versions an identity may change in one call.
pub const MAX_VERSIONS_PER_CALL: usize = 1000;
/// Most `custom_metadata` entries, and their longest key and value, as Vault limits them.
pub const MAX_CUSTOM_METADATA: usize = 64;
const MAX_CUSTOM_KEY_LEN: usize = 128;
const MAX_CUSTOM_VALUE_LEN: usize = 512;

/// A key's KV settings (all default to Vault's: 0, false, 0 s, none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvSettings {
    /// Versions to keep (0: the server's default, which keeps all; reported, not enforced).
    #[serde(default)]
    pub max_versions: i64,
    /// Writes must name the version they replace.
    #[serde(default)]
    pub cas_required: bool,
    /// Seconds after which a new version closes (0: never).
    #[serde(default)]
    pub delete_version_after: i64,
    /// Free string pairs, echoed with every read (ESO marks what it manages with them).
    #[serde(default)]
    pub custom_metadata: Option<BTreeMap<String, String>>,
}

/// A change of settings: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct SettingsChange {
    /// New `max_versions`.
    pub max_versions: Option<i64>,
    /// New `cas_required`.
    pub cas_required: Option<bool>,
    /// New `delete_version_after`, in seconds.
    pub delete_version_after: Option<i64>,
    /// New `custom_metadata`: replaces the map, or (a patch) merges into it, a `None` value
    /// removing its key.
    pub custom_metadata: Option<BTreeMap<String, Option<String>>>,
}

/// A key as `metadata/<path>` describes it.
#[derive(Debug)]
pub struct Key {
    /// The secret, when a version was ever written (and the key was not deleted since).
    pub secret: Option<SecretRecord>,
    /// Its versions, newest first.
    pub versions: Vec<VersionMeta>,
    /// Its settings.
    pub settings: KvSettings,
    /// When the settings were last written (the key's creation time without a secret).
    pub settings_updated_at: Option<time::OffsetDateTime>,
}

fn parse(record: Option<&KvSettingsRecord>) -> ApiResult<KvSettings> {
    record.map_or_else(
        || Ok(KvSettings::default()),
        |r| {
            serde_json::from_str(&r.settings)
                .map_err(|e| ApiError::Integrity(format!("stored KV settings of {:?} do not parse: {e}", r.path)))
        },
    )
}

/// The settings of the key at `path` in `vault` (defaults when none were written).
///
/// # Errors
/// Storage failures, unreadable stored settings.
pub async fn settings_of(state: &AppState, vault: &OpenVault, path: &str) -> ApiResult<KvSettings> {
    parse(state.store.kv_settings(vault.record.id, path).await?.as_ref())
}

/// A version read as KV reads it: the value and the key's settings (whose `custom_metadata`
/// goes with every answer).
///
/// # Errors
/// As [`super::secrets::read`].
pub async fn read(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    version: Option<i64>,
) -> ApiResult<(OpenedVersion, KvSettings)> {
    let opened = super::secrets::read(state, caller, vault_ref, raw_path, version).await?;
    let settings = settings_after_access(state, vault_ref, raw_path).await?;
    Ok((opened, settings))
}

/// A KV write ([`super::secrets::write_fields`]) and the key's settings.
///
/// # Errors
/// As [`super::secrets::write_fields`].
pub async fn write(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    fields: &serde_json::Map<String, serde_json::Value>,
    expected: Option<i64>,
) -> ApiResult<(SecretVersion, KvSettings)> {
    let written = super::secrets::write_fields(state, caller, vault_ref, raw_path, fields, expected).await?;
    let settings = settings_after_access(state, vault_ref, raw_path).await?;
    Ok((written, settings))
}

/// Settings of a key the caller was just allowed to read or write.
async fn settings_after_access(state: &AppState, vault_ref: &str, raw_path: &str) -> ApiResult<KvSettings> {
    match state.vault(vault_ref).await? {
        Some(vault) => settings_of(state, &vault, raw_path).await,
        None => Ok(KvSettings::default()),
    }
}

/// The key at `path`: its secret, versions and settings.
///
/// # Errors
/// 403, 404 (neither a live secret nor settings).
pub async fn key(state: &AppState, caller: &Caller, vault_ref: &str, raw_path: &str) -> ApiResult<Key> {
    let mut op = Op::new(state, caller, Action::SecretVersions);
    let result = async {
        access::require_scope(caller, Scope::SecretsRead)?;
        let (vault, path) = locate(state, &mut op, caller, vault_ref, raw_path, Permission::List).await?;
        let record = state.store.kv_settings(vault.record.id, path.as_str()).await?;
        let secret = state.store.secret(vault.record.id, path.as_str()).await?.filter(|s| s.deleted_at.is_none());
        if secret.is_none() && record.is_none() {
            return Err(ApiError::NotFound(format!("no key {path:?} in vault {:?}", vault.record.name)));
        }
        let versions = match &secret {
            Some(s) => state.store.list_versions(s.id).await?,
            None => Vec::new(),
        };
        Ok(Key {
            secret,
            versions,
            settings: parse(record.as_ref())?,
            settings_updated_at: record.map(|r| r.updated_at),
        })
    }
    .await;
    op.finish(result).await
}

fn check_custom(map: &BTreeMap<String, Option<String>>) -> ApiResult<()> {
    if map.len() > MAX_CUSTOM_METADATA {
        return Err(ApiError::BadRequest(format!("custom_metadata may hold at most {MAX_CUSTOM_METADATA} keys")));
    }
    for (k, v) in map {
        super::free_text("custom_metadata key", k, MAX_CUSTOM_KEY_LEN, true)?;
        if let Some(v) = v {
            super::free_text("custom_metadata value", v, MAX_CUSTOM_VALUE_LEN, false)?;
        }
    }
    Ok(())
}

/// Writes the key's settings (creating the key when it has none): every field `change`
/// names; `custom_metadata` replaced, or merged when `merge`.
///
/// # Errors
/// 400 (negative numbers, too many or too long custom entries), 403 (needs `write`), 404.
pub async fn put_settings(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    change: SettingsChange,
    merge: bool,
) -> ApiResult<()> {
    let mut op = Op::new(state, caller, Action::SecretSettings);
    let result = async {
        access::require_scope(caller, Scope::SecretsWrite)?;
        let (vault, path) = locate(state, &mut op, caller, vault_ref, raw_path, Permission::Write).await?;
        if change.max_versions.is_some_and(|n| n < 0) || change.delete_version_after.is_some_and(|n| n < 0) {
            return Err(ApiError::BadRequest("max_versions and delete_version_after may not be negative".into()));
        }
        if change.delete_version_after.is_some_and(|n| n > MAX_DELETE_VERSION_AFTER) {
            return Err(ApiError::BadRequest("delete_version_after may be at most 100 years".into()));
        }
        if change.max_versions.is_some() {
            // Trimming destroys versions: setting what trims needs what destroying needs.
            access::check_path(state, caller, &vault.record, &path, Permission::Delete).await?;
        }
        let mut settings = settings_of(state, &vault, path.as_str()).await?;
        if let Some(n) = change.max_versions {
            settings.max_versions = n;
        }
        if let Some(b) = change.cas_required {
            settings.cas_required = b;
        }
        if let Some(d) = change.delete_version_after {
            settings.delete_version_after = d;
        }
        if let Some(custom) = change.custom_metadata {
            check_custom(&custom)?;
            let mut map = if merge { settings.custom_metadata.take().unwrap_or_default() } else { BTreeMap::new() };
            for (k, v) in custom {
                match v {
                    Some(v) => map.insert(k, v),
                    None => map.remove(&k),
                };
            }
            if map.len() > MAX_CUSTOM_METADATA {
                return Err(ApiError::BadRequest(format!(
                    "custom_metadata may hold at most {MAX_CUSTOM_METADATA} keys"
                )));
            }
            settings.custom_metadata = if map.is_empty() { None } else { Some(map) };
        }
        op.detail("cas_required", settings.cas_required);
        op.detail("max_versions", settings.max_versions);
        op.detail("delete_version_after", settings.delete_version_after);
        let record = KvSettingsRecord {
            vault_id: vault.record.id,
            path: path.as_str().to_owned(),
            settings: serde_json::to_string(&settings).map_err(|e| ApiError::Internal(e.to_string()))?,
            updated_at: now(),
        };
        let event = op.success();
        state.store.put_kv_settings(&record, AuditBatch::new(&state.chain_key, &[event])).await?;
        Ok(())
    }
    .await;
    op.finish(result).await
}

/// Deletes the key: soft-deletes its secret (every version; an admin can restore it) and
/// forgets its settings. A key that is not there is no error, as in Vault.
///
/// # Errors
/// 403 (needs `delete`), 404 vault.
pub async fn delete_key(state: &AppState, caller: &Caller, vault_ref: &str, raw_path: &str) -> ApiResult<()> {
    let mut op = Op::new(state, caller, Action::SecretDelete);
    let result = async {
        access::require_scope(caller, Scope::SecretsWrite)?;
        let (vault, path) = locate(state, &mut op, caller, vault_ref, raw_path, Permission::Delete).await?;
        let secret = state.store.secret(vault.record.id, path.as_str()).await?.filter(|s| s.deleted_at.is_none());
        let events = [op.success()];
        let changed = [secret_changed(&vault, &path)];
        if let Some(secret) = secret {
            op.detail("secret_id", secret.id.to_string());
            let announced = [secret_event(&vault, &path, SecretEventKind::Deleted, secret.current_version)];
            let batch = AuditBatch::new(&state.chain_key, &events).changing(&changed).announcing(&announced);
            state.store.set_secret_deleted(secret.id, Some(now()), batch).await?;
            changes::committed(state, &changed).await;
            state
                .store
                .delete_kv_settings(vault.record.id, path.as_str(), AuditBatch::new(&state.chain_key, &[]))
                .await?;
        } else if !state
            .store
            .delete_kv_settings(vault.record.id, path.as_str(), AuditBatch::new(&state.chain_key, &events))
            .await?
        {
            // Nothing there: still recorded.
            state.store.append_audit(AuditBatch::new(&state.chain_key, &events)).await?;
        }
        Ok(())
    }
    .await;
    op.finish(result).await
}

/// Whether the caller's `list` permission reaches directly into the folder `prefix` (checked
/// on a path one segment below it, as the policy globs see one).
async fn may_list_in(state: &AppState, caller: &Caller, vault: &OpenVault, prefix: &str) -> ApiResult<bool> {
    let Ok(probe) = SecretPath::parse(&format!("{prefix}_")) else { return Ok(false) };
    Ok(!access::permitted(state, caller, &vault.record, vec![probe], Permission::List).await?.is_empty())
}

/// The oldest version a key with `max_versions` keeps at `current` (0: none trimmed), as
/// Vault counts it.
#[must_use]
pub fn oldest_kept(current: i64, max_versions: i64) -> i64 {
    if max_versions > 0 && current > max_versions { current - max_versions + 1 } else { 0 }
}

/// Destroys the versions a write pushed past `max_versions` (their ciphertext erased, as
/// Vault drops them), each recorded as a destroy by the writer.
///
/// # Errors
/// Storage failures.
pub(super) async fn trim(
    state: &AppState,
    op: &Op<'_>,
    vault: &OpenVault,
    path: &SecretPath,
    secret: &SecretRecord,
    max_versions: i64,
) -> ApiResult<()> {
    let oldest = oldest_kept(secret.current_version, max_versions);
    if oldest <= 1 {
        return Ok(());
    }
    let stale: Vec<i64> = state
        .store
        .list_versions(secret.id)
        .await?
        .into_iter()
        .filter(|m| m.version < oldest && !m.destroyed)
        .map(|m| m.version)
        .collect();
    let changed = [secret_changed(vault, path)];
    for version in stale {
        let event = op.derived(Action::SecretVersionDestroy, format!("{}/{}", vault.record.id, path.as_str()));
        let announced = [secret_event(vault, path, SecretEventKind::Destroyed, version)];
        let batch =
            AuditBatch::new(&state.chain_key, std::slice::from_ref(&event)).changing(&changed).announcing(&announced);
        state.store.change_version(secret.id, version, VersionChange::Destroy, now(), batch).await?;
    }
    changes::committed(state, &changed).await;
    Ok(())
}

/// Which versions a change names: `None` is the current one.
#[derive(Debug)]
pub enum Versions {
    /// The current version.
    Current,
    /// These versions.
    These(Vec<i64>),
}

/// Disables, enables or destroys versions of the key. Versions that do not exist are
/// skipped, as Vault skips them.
///
/// # Errors
/// 400 (no versions, too many), 403 (needs `delete`), 404 vault.
pub async fn change_versions(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    versions: Versions,
    change: VersionChange,
) -> ApiResult<()> {
    let action = match change {
        VersionChange::Disable => Action::SecretVersionDisable,
        VersionChange::Enable => Action::SecretVersionEnable,
        VersionChange::Destroy => Action::SecretVersionDestroy,
    };
    let mut op = Op::new(state, caller, action);
    let result = async {
        access::require_scope(caller, Scope::SecretsWrite)?;
        let (vault, path) = locate(state, &mut op, caller, vault_ref, raw_path, Permission::Delete).await?;
        if change == VersionChange::Enable {
            // A version disabled through the native API (which needs `write`) is not reopened
            // by someone who may only delete.
            access::check_path(state, caller, &vault.record, &path, Permission::Write).await?;
        }
        let Some(secret) = state.store.secret(vault.record.id, path.as_str()).await?.filter(|s| s.deleted_at.is_none())
        else {
            return Ok(());
        };
        let numbers = match versions {
            Versions::Current => vec![secret.current_version],
            Versions::These(v) if v.is_empty() => {
                return Err(ApiError::BadRequest("No version number provided".into()));
            }
            Versions::These(v) if v.len() > MAX_VERSIONS_PER_CALL => {
                return Err(ApiError::BadRequest(format!("at most {MAX_VERSIONS_PER_CALL} versions per call")));
            }
            Versions::These(mut v) => {
                v.sort_unstable();
                v.dedup();
                v
            }
        };
        op.detail("secret_id", secret.id.to_string());
        op.detail("versions", numbers.clone());
        let event = op.success();
        let changed = [secret_changed(&vault, &path)];
        let mut events = vec![event];
        let kind = match change {
            VersionChange::Disable => SecretEventKind::Disabled,
            VersionChange::Enable => SecretEventKind::Enabled,
            VersionChange::Destroy => SecretEventKind::Destroyed,
        };
        for n in numbers.into_iter().filter(|n| (1..=secret.current_version).contains(n)) {
            // One audit event for the call, on its first change; a secret event for each.
            let announced = [secret_event(&vault, &path, kind, n)];
            let batch = AuditBatch::new(&state.chain_key, &events).changing(&changed).announcing(&announced);
            if state.store.change_version(secret.id, n, change, now(), batch).await? {
                events.clear();
            }
        }
        changes::committed(state, &changed).await;
        if !events.is_empty() {
            // Nothing changed: the call is still recorded.
            state.store.append_audit(AuditBatch::new(&state.chain_key, &events)).await?;
        }
        Ok(())
    }
    .await;
    op.finish(result).await
}

/// The paths under `prefix` the caller may list: live secrets, and keys that have only
/// settings (Vault lists those too), sorted, without repeats. A folder the caller may not list
/// at all is refused (403), not answered as empty: a client such as ESO reads "nothing there"
/// as the secret being gone, and may delete what it synced.
///
/// # Errors
/// As [`super::secrets::list`]; 403 for a folder outside the caller's `list` permission.
pub async fn list_paths(state: &AppState, caller: &Caller, vault_ref: &str, prefix: &str) -> ApiResult<Vec<String>> {
    let mut paths: Vec<String> =
        super::secrets::list(state, caller, vault_ref, prefix).await?.into_iter().map(|v| v.secret.path).collect();
    // `list` has checked that the caller sees the vault.
    if let Some(vault) = state.vault(vault_ref).await? {
        let records = state.store.kv_settings_under(vault.record.id, prefix).await?;
        let candidates: Vec<SecretPath> = records.iter().filter_map(|r| SecretPath::parse(&r.path).ok()).collect();
        let allowed = access::permitted(state, caller, &vault.record, candidates, Permission::List).await?;
        paths.extend(allowed.into_iter().map(|p| p.as_str().to_owned()));
        if paths.is_empty() && !may_list_in(state, caller, &vault, prefix).await? {
            return Err(ApiError::Forbidden(format!("you may not list under {prefix:?}")));
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}
