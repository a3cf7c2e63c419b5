//! Secret operations: write a version, read (with expiry, read limits, disabled versions and
//! soft deletion), list, versions, disable, rotate, delete and restore.

use clawvault_core::scope::Scope;
use std::sync::Arc;

use clawvault_core::crypto::seal_version;
use clawvault_core::generate::{self, Charset};
use clawvault_core::time_util::now;
use clawvault_core::{SecretPath, SecretType, SecretValue};
use clawvault_store::{
    AuditBatch, Change, PutVersion, SecretEvent, SecretEventKind, SecretRecord, StoreError, VersionChange, VersionMeta,
    VersionRecord,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Caller;
use crate::caches::SealedVersion;
use crate::changes;
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use clawvault_core::action::Action;
use clawvault_core::policy::Permission;

use crate::service::access;
use crate::service::reveal::{self, Purpose};
use crate::service::vaults;
use crate::state::{AppState, OpenVault};

/// Attempts before a write that keeps losing compare-and-set races gives up with 409.
const WRITE_ATTEMPTS: usize = 16;

/// A new version's content.
#[derive(Debug)]
pub struct NewVersion {
    /// The value.
    pub value: SecretValue,
    /// Its type.
    pub secret_type: SecretType,
    /// Metadata (a JSON object, as text).
    pub metadata: String,
    /// Unreadable after.
    pub expires_at: Option<OffsetDateTime>,
    /// Read limit (`None`: unlimited).
    pub max_access_count: Option<i64>,
}

impl NewVersion {
    /// A version from a request's fields as every surface receives them: metadata a JSON
    /// object (absent: `{}`), a read limit of 0 meaning unlimited, the type by name (absent:
    /// `generic`).
    ///
    /// # Errors
    /// 400 naming the field.
    pub fn parse(
        value: SecretValue,
        secret_type: Option<&str>,
        metadata: Option<serde_json::Value>,
        expires_at: Option<OffsetDateTime>,
        max_access_count: Option<i64>,
    ) -> ApiResult<Self> {
        let metadata = match metadata {
            None | Some(serde_json::Value::Null) => "{}".to_owned(),
            Some(v @ serde_json::Value::Object(_)) => v.to_string(),
            Some(_) => return Err(ApiError::Invalid { field: "metadata", problem: "must be a JSON object".into() }),
        };
        let max_access_count = match max_access_count {
            None | Some(0) => None,
            Some(n) if n > 0 => Some(n),
            Some(_) => {
                return Err(ApiError::Invalid {
                    field: "max_access_count",
                    problem: "must be 0 (unlimited) or more".into(),
                });
            }
        };
        Ok(Self {
            value,
            secret_type: parse_type(secret_type)?.unwrap_or(SecretType::Generic),
            metadata,
            expires_at,
            max_access_count,
        })
    }
}

/// A secret type by name (`None` when absent).
///
/// # Errors
/// 400 naming the known types.
pub fn parse_type(raw: Option<&str>) -> ApiResult<Option<SecretType>> {
    raw.map(|t| t.parse::<SecretType>().map_err(|e| ApiError::BadRequest(e.to_string()))).transpose()
}

/// A secret and one version's metadata: what every answer about a secret describes. (Its
/// other forms: [`OpenedVersion`] adds the plaintext, [`crate::caches::SealedVersion`] holds
/// the ciphertext as stored.)
#[derive(Debug, Clone)]
pub struct SecretVersion {
    /// The secret.
    pub secret: SecretRecord,
    /// The version.
    pub meta: VersionMeta,
}

/// A [`SecretVersion`] with its plaintext, for a caller allowed to read or use it.
#[derive(Debug)]
pub struct OpenedVersion {
    /// The secret and version.
    pub version: SecretVersion,
    /// The plaintext.
    pub value: SecretValue,
}

fn parse_path(op: &mut Op<'_>, vault: &OpenVault, raw: &str) -> ApiResult<SecretPath> {
    op.resource(format!("{}/{}", vault.record.id, raw.chars().take(600).collect::<String>()));
    SecretPath::parse(raw).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The first steps of every operation on one secret: name it in the audit event, open the
/// vault with `permission`, check the path.
pub(crate) async fn locate(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    permission: Permission,
) -> ApiResult<(Arc<OpenVault>, SecretPath)> {
    op.resource(format!("{vault_ref}/{raw_path}"));
    let vault = vaults::open(state, op, caller, vault_ref).await?;
    let path = parse_path(op, &vault, raw_path)?;
    access::check_path(state, caller, &vault.record, &path, permission).await?;
    Ok((vault, path))
}

/// What a write to the secret at `path` changed.
pub(super) fn secret_changed(vault: &OpenVault, path: &SecretPath) -> Change {
    Change::Secret { vault_id: vault.record.id, path: path.as_str().to_owned() }
}

/// What a write did to the secret at `path`, for event streams.
pub(super) fn secret_event(vault: &OpenVault, path: &SecretPath, kind: SecretEventKind, version: i64) -> SecretEvent {
    SecretEvent { vault_id: vault.record.id, path: path.as_str().to_owned(), kind, version }
}

fn not_found(vault: &OpenVault, path: &SecretPath) -> ApiError {
    ApiError::NotFound(format!("no secret at {path:?} in vault {:?}", vault.record.name))
}

/// Writes a new version at `path` (creating the secret, or reviving a deleted one).
///
/// # Errors
/// 400 bad path, 403, 404 vault, 409 after repeated concurrent writes.
pub async fn write(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    new: NewVersion,
) -> ApiResult<SecretVersion> {
    let mut op = Op::new(state, caller, Action::SecretWrite);
    op.resource(format!("{vault_ref}/{raw_path}"));
    let result = async {
        access::require_scope(caller, Scope::SecretsWrite)?;
        let (vault, path) = locate(state, &mut op, caller, vault_ref, raw_path, Permission::Write).await?;
        // Rotation keeps the stored metadata as it is; what a caller sends is checked.
        check_metadata(&new.metadata)?;
        write_at(state, &mut op, caller, &vault, &path, new, None, SecretEventKind::Written).await
    }
    .await;
    op.finish(result).await
}

/// A Vault KV v2 write: a new `json` version holding `fields` (a JSON object), only if the
/// live version is `expected` when given (0: no live version): [`write_keeping`] with no
/// metadata of its own.
///
/// # Errors
/// As [`write_keeping`].
pub async fn write_fields(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    fields: &serde_json::Map<String, serde_json::Value>,
    expected: Option<i64>,
) -> ApiResult<SecretVersion> {
    let value = SecretValue::new(serde_json::to_vec(fields).map_err(|e| ApiError::Internal(e.to_string()))?);
    let content = KeptContent { value, secret_type: SecretType::Json, keep_plain_type: false, surface_metadata: None };
    write_keeping(state, caller, vault_ref, raw_path, content, expected).await
}

/// What a write through a compatible API (Vault KV, Connect) carries: a value, and at most
/// one metadata entry of that API's own (Connect's item layout), which replaces the live
/// version's entry of that name.
#[derive(Debug)]
pub struct KeptContent {
    /// The value.
    pub value: SecretValue,
    /// Its type...
    pub secret_type: SecretType,
    /// ...unless this is one plain value replacing one: the live version's type (an API key,
    /// a password) is kept then.
    pub keep_plain_type: bool,
    /// The API's metadata entry: its name and a JSON object (values are never put there).
    pub surface_metadata: Option<(&'static str, serde_json::Value)>,
}

/// A write from a compatible API, whose requests carry no clawvault metadata: the live
/// version's metadata (its allowed hosts above all) is kept, as a rotation keeps it, and the
/// key's KV settings apply (`cas_required`, `delete_version_after` as the version's expiry,
/// `max_versions` trimming). Only if the live version is `expected` when given (0: no live
/// version): a check-and-set that loses to another writer is refused, not retried.
///
/// # Errors
/// As [`write`]; 400 naming `cas` when the live version is another, `cas_required` when it
/// must be named and is not.
pub async fn write_keeping(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    content: KeptContent,
    expected: Option<i64>,
) -> ApiResult<SecretVersion> {
    let mut op = Op::new(state, caller, Action::SecretWrite);
    op.resource(format!("{vault_ref}/{raw_path}"));
    let result = async {
        access::require_scope(caller, Scope::SecretsWrite)?;
        let (vault, path) = locate(state, &mut op, caller, vault_ref, raw_path, Permission::Write).await?;
        if let Some(cas) = expected {
            op.detail("cas", cas);
        }
        let settings = super::kv::settings_of(state, &vault, path.as_str()).await?;
        if settings.cas_required && expected.is_none() {
            return Err(ApiError::Invalid {
                field: "cas_required",
                problem: "is set on this key: name the version you replace (cas)".into(),
            });
        }
        let live = state
            .store
            .version(vault.record.id, path.as_str(), None)
            .await?
            .filter(|(secret, _)| secret.deleted_at.is_none());
        let secret_type = match &live {
            Some((_, record))
                if content.keep_plain_type
                    && !matches!(record.meta.secret_type, SecretType::Json | SecretType::File) =>
            {
                record.meta.secret_type
            }
            _ => content.secret_type,
        };
        let live_metadata = live.map_or_else(|| "{}".to_owned(), |(_, record)| record.meta.metadata);
        let metadata = match content.surface_metadata {
            None => live_metadata,
            Some((name, entry)) => {
                let mut merged = match serde_json::from_str::<serde_json::Value>(&live_metadata) {
                    Ok(serde_json::Value::Object(m)) => m,
                    _ => serde_json::Map::new(),
                };
                merged.insert(name.to_owned(), entry);
                let text = serde_json::Value::Object(merged).to_string();
                check_metadata(&text)?;
                text
            }
        };
        // Vault's delete_version_after is clawvault's expiry of the version.
        let expires_at = match settings.delete_version_after {
            0 => None,
            after => Some(now().checked_add(time::Duration::seconds(after)).ok_or_else(|| ApiError::Invalid {
                field: "delete_version_after",
                problem: "is too far ahead: set it to at most 100 years".into(),
            })?),
        };
        let new = NewVersion { value: content.value, secret_type, metadata, expires_at, max_access_count: None };
        let written = write_at(state, &mut op, caller, &vault, &path, new, expected, SecretEventKind::Written).await?;
        // The write has committed: a trim that fails is logged (and done by the next write),
        // never answered as a failed write.
        if let Err(e) = super::kv::trim(state, &op, &vault, &path, &written.secret, settings.max_versions).await {
            tracing::error!(error = %e, "trimming versions past max_versions failed; the next write trims them");
        }
        Ok(written)
    }
    .await;
    op.finish(result).await
}

/// An operation on one secret that an API checks before it reads the request's content
/// (Connect's items: who may not write is refused before the body is looked at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Reveal the value.
    Read,
    /// Write a version.
    Write,
    /// Delete the secret.
    Delete,
}

impl Intent {
    const fn permission(self) -> Permission {
        match self {
            Self::Read => Permission::Read,
            Self::Write => Permission::Write,
            Self::Delete => Permission::Delete,
        }
    }

    const fn scope(self) -> Scope {
        match self {
            Self::Read => Scope::SecretsRead,
            Self::Write | Self::Delete => Scope::SecretsWrite,
        }
    }

    const fn action(self) -> Action {
        match self {
            Self::Read => Action::SecretRead,
            Self::Write => Action::SecretWrite,
            Self::Delete => Action::SecretDelete,
        }
    }
}

/// Checks that the caller may do `intent` at `raw_path`, before the operation itself (which
/// checks again and records its outcome). Only a refusal is audited here, under the
/// operation's action.
///
/// # Errors
/// 400 bad path, 403, 404 vault.
pub async fn authorize(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    intent: Intent,
) -> ApiResult<()> {
    let mut op = Op::new(state, caller, intent.action());
    let checked = async {
        access::require_scope(caller, intent.scope())?;
        locate(state, &mut op, caller, vault_ref, raw_path, intent.permission()).await.map(|_| ())
    }
    .await;
    match checked {
        Ok(()) => Ok(()),
        Err(e) => Err(op.fail(e).await),
    }
}

/// The path of the live secret `id` in the vault, for APIs that name secrets by id
/// (Connect's items), once the caller may do `intent` on it. A caller who may neither do that
/// nor list the path is told it does not exist, as for an id never issued: ids reveal no
/// paths. Only a refusal is audited here, under the operation's action; the operation on
/// the path records its own outcome.
///
/// # Errors
/// 403 (the vault; or the path, to a caller who may list it), 404.
pub async fn path_of(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    id: Uuid,
    intent: Intent,
) -> ApiResult<String> {
    let mut op = Op::new(state, caller, intent.action());
    op.resource(format!("{vault_ref}/{id}"));
    let found = async {
        access::require_scope(caller, intent.scope())?;
        let vault = vaults::open(state, &mut op, caller, vault_ref).await?;
        let missing = || ApiError::NotFound(format!("no secret with id {id} in vault {:?}", vault.record.name));
        // Where the id lives (cached: a secret keeps its path for life), then whether it is
        // still the live secret there.
        let (vault_id, raw_path) = match state.secrets.locate(id) {
            Some(hit) => hit,
            None => state.store.secret_by_id(id).await?.map(|s| (s.vault_id, s.path)).ok_or_else(missing)?,
        };
        if vault_id != vault.record.id {
            return Err(missing());
        }
        let path = SecretPath::parse(&raw_path).map_err(|_| missing())?;
        let live = current(state, &vault, &path).await?;
        let secret =
            live.as_ref().map(|row| &row.0).filter(|s| s.id == id && s.deleted_at.is_none()).ok_or_else(missing)?;
        match access::check_path(state, caller, &vault.record, &path, intent.permission()).await {
            Ok(()) => Ok(secret.path.clone()),
            Err(denied @ ApiError::Forbidden(_)) => {
                if access::check_path(state, caller, &vault.record, &path, Permission::List).await.is_ok() {
                    op.resource(format!("{}/{}", vault.record.id, secret.path));
                    Err(denied)
                } else {
                    Err(missing())
                }
            }
            Err(other) => Err(other),
        }
    }
    .await;
    match found {
        Ok(path) => Ok(path),
        Err(e) => Err(op.fail(e).await),
    }
}

/// Whether the caller may reveal the value at `path`: what an answer to a write may echo of
/// a value the caller did not send (one the server generated).
///
/// # Errors
/// Storage failures.
pub async fn revealable(state: &AppState, caller: &Caller, vault_ref: &str, raw_path: &str) -> ApiResult<bool> {
    if !access::has_scope(caller, Scope::SecretsRead) {
        return Ok(false);
    }
    let (Some(vault), Ok(path)) = (state.vault(vault_ref).await?, SecretPath::parse(raw_path)) else {
        return Ok(false);
    };
    Ok(access::check_path(state, caller, &vault.record, &path, Permission::Read).await.is_ok())
}

fn cas_mismatch(live: i64) -> ApiError {
    ApiError::Invalid { field: "cas", problem: format!("did not match the current version ({live})") }
}

#[allow(clippy::too_many_arguments)] // one call site each: a struct would only rename them
async fn write_at(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    vault: &OpenVault,
    path: &SecretPath,
    new: NewVersion,
    cas: Option<i64>,
    kind: SecretEventKind,
) -> ApiResult<SecretVersion> {
    super::require_future("expires_at", new.expires_at)?;
    if new.secret_type == SecretType::Json && !is_json_object(&new.value) {
        return Err(ApiError::Invalid {
            field: "value",
            problem:
                "must be a JSON object of fields for a json secret, such as {\"user\": \"app\", \"password\": \"...\"}"
                    .into(),
        });
    }
    if new.secret_type == SecretType::GithubApp {
        super::github::check_value(&new.value)?;
    }
    op.detail("type", new.secret_type.as_str());
    for _ in 0..WRITE_ATTEMPTS {
        let head = state.store.secret(vault.record.id, path.as_str()).await?;
        if let Some(cas) = cas {
            let live = head.as_ref().filter(|h| h.deleted_at.is_none()).map_or(0, |h| h.current_version);
            if live != cas {
                return Err(cas_mismatch(live));
            }
        }
        let (secret_id, expected) = head.as_ref().map_or((Uuid::new_v4(), 0), |s| (s.id, s.current_version));
        let version = expected + 1;
        let ciphertext = seal_version(&vault.key, reveal::binding(vault, secret_id, version), &new.value)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let created_at = now();
        let meta = VersionMeta {
            version,
            secret_type: new.secret_type,
            metadata: new.metadata.clone(),
            created_by: caller.principal.id(),
            created_at,
            expires_at: new.expires_at,
            max_access_count: new.max_access_count,
            access_count: 0,
            is_disabled: false,
            disabled_at: None,
            destroyed: false,
        };
        let put = PutVersion {
            secret_id,
            vault_id: vault.record.id,
            path: path.as_str().to_owned(),
            expected_version: expected,
            record: VersionRecord { meta: meta.clone(), ciphertext },
        };
        op.detail("secret_id", secret_id.to_string());
        op.detail("version", version);
        let events = [op.success()];
        let changed = [secret_changed(vault, path)];
        let announced = [secret_event(vault, path, kind, version)];
        let batch = AuditBatch::new(&state.chain_key, &events).changing(&changed).announcing(&announced);
        match state.store.put_version(&put, batch).await {
            Ok(()) => {
                changes::committed(state, &changed).await;
                let secret = SecretRecord {
                    id: secret_id,
                    vault_id: vault.record.id,
                    path: path.as_str().to_owned(),
                    current_version: version,
                    created_by: head.as_ref().map_or(caller.principal.id(), |h| h.created_by),
                    created_at: head.as_ref().map_or(created_at, |h| h.created_at),
                    updated_at: created_at,
                    deleted_at: None,
                    deleted_through: head
                        .as_ref()
                        .map_or(0, |h| if h.deleted_at.is_some() { h.current_version } else { h.deleted_through }),
                };
                return Ok(SecretVersion { secret, meta });
            }
            // Another writer won: a check-and-set write has lost for good.
            Err(StoreError::Conflict(_)) if cas.is_some() => return Err(cas_mismatch(expected + 1)),
            Err(StoreError::Conflict(_)) => tokio::task::yield_now().await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(format!("{path:?} is being written by others right now; retry")))
}

fn is_json_object(value: &SecretValue) -> bool {
    matches!(serde_json::from_slice::<serde_json::Value>(value.expose()), Ok(serde_json::Value::Object(_)))
}

/// Metadata is shown in listings: its keys and text values are free text.
fn check_metadata(metadata: &str) -> ApiResult<()> {
    fn walk(v: &serde_json::Value) -> Result<(), clawvault_core::text::TextError> {
        match v {
            serde_json::Value::String(s) => clawvault_core::text::check("metadata", s, usize::MAX, false),
            serde_json::Value::Array(items) => items.iter().try_for_each(walk),
            serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
                clawvault_core::text::check("metadata", k, usize::MAX, false)?;
                walk(v)
            }),
            _ => Ok(()),
        }
    }
    let parsed: serde_json::Value = serde_json::from_str(metadata)
        .map_err(|_| ApiError::Invalid { field: "metadata", problem: "must be a JSON object".into() })?;
    walk(&parsed).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Reads a version to hand back to the caller (the current one when `version` is `None`):
/// [`open`] for [`Purpose::Reveal`].
///
/// # Errors
/// As [`open`].
pub async fn read(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    version: Option<i64>,
) -> ApiResult<OpenedVersion> {
    open(state, caller, Purpose::Reveal, vault_ref, raw_path, version).await
}

/// Opens a version (the current one when `version` is `None`) for `purpose`: the caller needs
/// that purpose's permission on the path and scope on their key; the opening counts against
/// a read limit; expired, disabled and deleted versions answer 410.
///
/// # Errors
/// 400, 403, 404, 410, 500 when the ciphertext fails its integrity check.
pub async fn open(
    state: &AppState,
    caller: &Caller,
    purpose: Purpose,
    vault_ref: &str,
    raw_path: &str,
    version: Option<i64>,
) -> ApiResult<OpenedVersion> {
    let mut op = Op::new(state, caller, purpose.action());
    op.resource(format!("{vault_ref}/{raw_path}"));
    let result = open_in(state, &mut op, caller, purpose, vault_ref, raw_path, version).await;
    op.finish(result).await
}

async fn open_in(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    purpose: Purpose,
    vault_ref: &str,
    raw_path: &str,
    version: Option<i64>,
) -> ApiResult<OpenedVersion> {
    access::require_scope(caller, purpose.scope())?;
    let (vault, path) = locate(state, op, caller, vault_ref, raw_path, purpose.permission()).await?;
    if let Some(v) = version {
        op.detail("version", v);
    }
    let found = match version {
        Some(_) => state.store.version(vault.record.id, path.as_str(), version).await?.map(Arc::new),
        None => current(state, &vault, &path).await?,
    };
    let row = found.ok_or_else(|| match version {
        Some(v) => ApiError::NotFound(format!("{path:?} in vault {:?} has no version {v}", vault.record.name)),
        None => not_found(&vault, &path),
    })?;
    let (secret, record) = (&row.0, &row.1);
    op.detail("secret_id", secret.id.to_string());
    op.detail("version", record.meta.version);
    if purpose == Purpose::Use && record.meta.secret_type == SecretType::GithubApp {
        only_readers_open_app_keys(state, caller, &vault, &path).await?;
    }
    let (meta, value) = reveal::open(state, op, &vault, secret, record, &path).await?;
    Ok(OpenedVersion { version: SecretVersion { secret: secret.clone(), meta }, value })
}

/// A `github_app` secret is used by minting tokens from it: its value (the app's private key)
/// goes only to a caller who may read it, never to one who may only use it.
///
/// # Errors
/// 403 saying how to get a token instead.
pub(crate) async fn only_readers_open_app_keys(
    state: &AppState,
    caller: &Caller,
    vault: &OpenVault,
    path: &SecretPath,
) -> ApiResult<()> {
    let may_read = access::has_scope(caller, Scope::SecretsRead)
        && access::check_path(state, caller, &vault.record, path, Permission::Read).await.is_ok();
    if may_read {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "{path:?} is a github_app secret: with use, ask for an installation token minted from it; its private key goes only to those who may read it"
    )))
}

/// The current version, from the cache when possible.
pub(crate) async fn current(
    state: &AppState,
    vault: &OpenVault,
    path: &SecretPath,
) -> ApiResult<Option<SealedVersion>> {
    if let Some(hit) = state.secrets.get(vault.record.id, path.as_str()) {
        return Ok(Some(hit));
    }
    let epoch = state.secrets.epoch();
    let row = state.store.version(vault.record.id, path.as_str(), None).await?.map(Arc::new);
    if let Some(row) = &row {
        state.secrets.put(epoch, Arc::clone(row));
    }
    Ok(row)
}

/// Live secrets under `prefix`, current versions' metadata only.
///
/// # Errors
/// 400 bad prefix, 403, 404.
pub async fn list(state: &AppState, caller: &Caller, vault_ref: &str, prefix: &str) -> ApiResult<Vec<SecretVersion>> {
    let mut op = Op::new(state, caller, Action::SecretList);
    op.resource(vault_ref.to_owned());
    let result = list_in(state, &mut op, caller, vault_ref, prefix).await;
    op.finish(result).await
}

async fn list_in(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    vault_ref: &str,
    prefix: &str,
) -> ApiResult<Vec<SecretVersion>> {
    access::require_scope(caller, Scope::SecretsRead)?;
    let vault = vaults::open(state, op, caller, vault_ref).await?;
    op.resource(vault.record.id.to_string());
    if prefix.len() > clawvault_core::path::MAX_PATH_LEN || prefix.chars().any(char::is_control) {
        return Err(ApiError::Invalid {
            field: "prefix",
            problem: "is too long or contains control characters".into(),
        });
    }
    op.detail("prefix", prefix);
    let rows = state.store.list_secrets(vault.record.id, prefix).await?;
    // Only what the caller may list: stored paths are valid paths, anything else is skipped.
    let paths: Vec<SecretPath> = rows.iter().filter_map(|(s, _)| SecretPath::parse(&s.path).ok()).collect();
    let allowed: std::collections::HashSet<String> =
        access::permitted(state, caller, &vault.record, paths, Permission::List)
            .await?
            .into_iter()
            .map(|p| p.as_str().to_owned())
            .collect();
    let visible: Vec<SecretVersion> = rows
        .into_iter()
        .filter(|(s, _)| allowed.contains(&s.path))
        .map(|(secret, meta)| SecretVersion { secret, meta })
        .collect();
    op.detail("count", visible.len());
    Ok(visible)
}

/// The listing of one path: the live secret at `raw_path` if the caller may list it (what
/// finding an item by its exact title is), from the cache of current versions rather than a
/// scan of the vault. A path that is not valid, or that the caller may not list, lists nothing.
///
/// # Errors
/// 403, 404 for the vault.
pub async fn list_one(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
) -> ApiResult<Vec<SecretVersion>> {
    let mut op = Op::new(state, caller, Action::SecretList);
    op.resource(vault_ref.to_owned());
    let result = async {
        access::require_scope(caller, Scope::SecretsRead)?;
        let vault = vaults::open(state, &mut op, caller, vault_ref).await?;
        op.resource(vault.record.id.to_string());
        op.detail("path", raw_path.chars().take(clawvault_core::path::MAX_PATH_LEN).collect::<String>());
        let mut visible = Vec::new();
        if let Ok(path) = SecretPath::parse(raw_path) {
            match access::check_path(state, caller, &vault.record, &path, Permission::List).await {
                Ok(()) => {
                    if let Some(row) = current(state, &vault, &path).await?
                        && row.0.deleted_at.is_none()
                    {
                        visible.push(SecretVersion { secret: row.0.clone(), meta: row.1.meta.clone() });
                    }
                }
                Err(ApiError::Forbidden(_)) => {}
                Err(e) => return Err(e),
            }
        }
        op.detail("count", visible.len());
        Ok(visible)
    }
    .await;
    op.finish(result).await
}

/// Most secrets [`recognisable`] opens for one scan.
pub const MAX_RECOGNISED: usize = 256;
/// Longest value [`recognisable`] returns: a scan looks for credentials, not files.
pub const MAX_RECOGNISED_LEN: usize = 4096;
/// Shortest value recognised for a caller who may use it but not read it: a short value (a
/// PIN, a word) could be found by scanning a text of guesses, which `read` alone may learn.
pub const MIN_USE_RECOGNISED_LEN: usize = 16;

/// The current values of secrets in a vault that the caller may use, opened only so that a
/// scan can recognise them in text (never handed back): at most [`MAX_RECOGNISED`] of at
/// most [`MAX_RECOGNISED_LEN`] bytes; none with a read limit (a scan must not spend a
/// reading) or that may not be opened now; and, where the caller may not read them, none
/// shorter than [`MIN_USE_RECOGNISED_LEN`].
///
/// # Errors
/// 403, 404, storage failures.
pub async fn recognisable(state: &AppState, caller: &Caller, vault_ref: &str) -> ApiResult<Vec<(String, SecretValue)>> {
    let mut op = Op::new(state, caller, Purpose::Use.action());
    op.resource(vault_ref.to_owned());
    let result = async {
        access::require_scope(caller, Purpose::Use.scope())?;
        let vault = vaults::open(state, &mut op, caller, vault_ref).await?;
        op.resource(vault.record.id.to_string());
        let rows = state.store.list_secrets(vault.record.id, "").await?;
        let paths: Vec<SecretPath> = rows.iter().filter_map(|(s, _)| SecretPath::parse(&s.path).ok()).collect();
        let readable: std::collections::HashSet<SecretPath> = if access::has_scope(caller, Scope::SecretsRead) {
            access::permitted(state, caller, &vault.record, paths.clone(), Permission::Read)
                .await?
                .into_iter()
                .collect()
        } else {
            std::collections::HashSet::new()
        };
        let usable = access::permitted(state, caller, &vault.record, paths, Permission::Use).await?;
        let mut values = Vec::new();
        for path in usable.into_iter().take(MAX_RECOGNISED) {
            let Some(row) = current(state, &vault, &path).await? else { continue };
            let Some(value) = reveal::recognise(&vault, &row.0, &row.1, &path)? else { continue };
            let shortest = if readable.contains(&path) { 0 } else { MIN_USE_RECOGNISED_LEN };
            if (shortest..=MAX_RECOGNISED_LEN).contains(&value.len()) {
                values.push((path.as_str().to_owned(), value));
            }
        }
        op.detail("purpose", "recognise");
        op.detail("count", values.len());
        Ok(values)
    }
    .await;
    op.finish(result).await
}

async fn head(state: &AppState, vault: &OpenVault, path: &SecretPath) -> ApiResult<SecretRecord> {
    state.store.secret(vault.record.id, path.as_str()).await?.ok_or_else(|| not_found(vault, path))
}

/// All versions of a secret, newest first.
///
/// # Errors
/// 400, 403, 404.
pub async fn versions(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
) -> ApiResult<(SecretRecord, Vec<VersionMeta>)> {
    let mut op = Op::new(state, caller, Action::SecretVersions);
    op.resource(format!("{vault_ref}/{raw_path}"));
    let result = async {
        access::require_scope(caller, Scope::SecretsRead)?;
        let (vault, path) = locate(state, &mut op, caller, vault_ref, raw_path, Permission::List).await?;
        let secret = head(state, &vault, &path).await?;
        let versions = state.store.list_versions(secret.id).await?;
        Ok((secret, versions))
    }
    .await;
    op.finish(result).await
}

/// Disables one version: kept for audit, reads answer 410.
///
/// # Errors
/// 400, 403, 404.
pub async fn disable(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    version: i64,
) -> ApiResult<()> {
    let mut op = Op::new(state, caller, Action::SecretVersionDisable);
    op.resource(format!("{vault_ref}/{raw_path}"));
    op.detail("version", version);
    let result = async {
        access::require_scope(caller, Scope::SecretsWrite)?;
        let (vault, path) = locate(state, &mut op, caller, vault_ref, raw_path, Permission::Write).await?;
        let secret = head(state, &vault, &path).await?;
        op.detail("secret_id", secret.id.to_string());
        let event = op.success();
        let changed = [secret_changed(&vault, &path)];
        let announced = [secret_event(&vault, &path, SecretEventKind::Disabled, version)];
        if state
            .store
            .change_version(
                secret.id,
                version,
                VersionChange::Disable,
                now(),
                AuditBatch::new(&state.chain_key, &[event]).changing(&changed).announcing(&announced),
            )
            .await?
        {
            changes::committed(state, &changed).await;
            Ok(())
        } else {
            Err(ApiError::NotFound(format!("{path:?} has no version {version}")))
        }
    }
    .await;
    op.finish(result).await
}

/// The next value of a rotation.
#[derive(Debug)]
pub enum NextValue {
    /// Generated by the server.
    Generate {
        /// Length in characters.
        length: usize,
        /// Alphabet.
        charset: Charset,
    },
    /// Given by the caller (a key a provider issued).
    Given(SecretValue),
}

/// What `rotate` writes.
#[derive(Debug)]
pub struct Rotation {
    /// The value.
    pub next: NextValue,
    /// New type (default: unchanged).
    pub secret_type: Option<SecretType>,
}

/// Writes the next version of an existing secret, keeping its type (unless changed) and
/// metadata: a generated value, or one the caller has.
///
/// # Errors
/// 400 bad length/charset, 403, 404 (no such secret), 410 (deleted).
pub async fn rotate(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    rotation: Rotation,
) -> ApiResult<SecretVersion> {
    let mut op = Op::new(state, caller, Action::SecretRotate);
    op.resource(format!("{vault_ref}/{raw_path}"));
    let result = rotate_in(state, &mut op, caller, vault_ref, raw_path, rotation).await;
    op.finish(result).await
}

async fn rotate_in(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
    rotation: Rotation,
) -> ApiResult<SecretVersion> {
    access::require_scope(caller, Scope::SecretsWrite)?;
    // `rotate` lets the server roll a value nobody knows; setting a known value is a write.
    let permission = match rotation.next {
        NextValue::Generate { .. } => Permission::Rotate,
        NextValue::Given(_) => Permission::Write,
    };
    let (vault, path) = locate(state, op, caller, vault_ref, raw_path, permission).await?;
    let value = match rotation.next {
        NextValue::Generate { length, charset } => {
            op.detail("generated_length", length);
            generate::generate(length, charset).map_err(|e| ApiError::BadRequest(e.to_string()))?
        }
        NextValue::Given(value) => value,
    };
    let (secret, current) =
        state.store.version(vault.record.id, path.as_str(), None).await?.ok_or_else(|| not_found(&vault, &path))?;
    if secret.deleted_at.is_some() {
        return Err(ApiError::Gone(format!("{path:?} was deleted; restore it before rotating")));
    }
    let new = NewVersion {
        value,
        secret_type: rotation.secret_type.unwrap_or(current.meta.secret_type),
        metadata: current.meta.metadata,
        expires_at: None,
        max_access_count: None,
    };
    write_at(state, op, caller, &vault, &path, new, None, SecretEventKind::Rotated).await
}

/// Soft-deletes a secret (every version).
///
/// # Errors
/// 400, 403, 404 (none, or already deleted).
pub async fn delete(state: &AppState, caller: &Caller, vault_ref: &str, raw_path: &str) -> ApiResult<()> {
    let mut op = Op::new(state, caller, Action::SecretDelete);
    op.resource(format!("{vault_ref}/{raw_path}"));
    let result = async {
        access::require_scope(caller, Scope::SecretsWrite)?;
        let (vault, path) = locate(state, &mut op, caller, vault_ref, raw_path, Permission::Delete).await?;
        let secret = head(state, &vault, &path).await?;
        if secret.deleted_at.is_some() {
            return Err(not_found(&vault, &path));
        }
        op.detail("secret_id", secret.id.to_string());
        let events = [op.success()];
        let changed = [secret_changed(&vault, &path)];
        let announced = [secret_event(&vault, &path, SecretEventKind::Deleted, secret.current_version)];
        let batch = AuditBatch::new(&state.chain_key, &events).changing(&changed).announcing(&announced);
        state.store.set_secret_deleted(secret.id, Some(now()), batch).await?;
        changes::committed(state, &changed).await;
        Ok(())
    }
    .await;
    op.finish(result).await
}

/// Restores a soft-deleted secret (admins only).
///
/// # Errors
/// 403 for non-admins, 404, 409 when it is not deleted.
pub async fn restore(state: &AppState, caller: &Caller, vault_ref: &str, raw_path: &str) -> ApiResult<SecretVersion> {
    let mut op = Op::new(state, caller, Action::SecretRestore);
    op.resource(format!("{vault_ref}/{raw_path}"));
    let result = restore_in(state, &mut op, caller, vault_ref, raw_path).await;
    op.finish(result).await
}

async fn restore_in(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    vault_ref: &str,
    raw_path: &str,
) -> ApiResult<SecretVersion> {
    access::require_scope(caller, Scope::SecretsWrite)?;
    access::require_admin(caller, "restore a deleted secret")?;
    let (vault, path) = locate(state, op, caller, vault_ref, raw_path, Permission::Write).await?;
    let (mut secret, current) =
        state.store.version(vault.record.id, path.as_str(), None).await?.ok_or_else(|| not_found(&vault, &path))?;
    if secret.deleted_at.is_none() && secret.deleted_through == 0 {
        return Err(ApiError::Conflict(format!("{path:?} is not deleted")));
    }
    op.detail("secret_id", secret.id.to_string());
    let events = [op.success()];
    let changed = [secret_changed(&vault, &path)];
    let announced = [secret_event(&vault, &path, SecretEventKind::Restored, secret.current_version)];
    let batch = AuditBatch::new(&state.chain_key, &events).changing(&changed).announcing(&announced);
    state.store.set_secret_deleted(secret.id, None, batch).await?;
    changes::committed(state, &changed).await;
    secret.deleted_at = None;
    secret.deleted_through = 0;
    Ok(SecretVersion { secret, meta: current.meta })
}
