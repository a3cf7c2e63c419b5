//! Secret requests: an agent needs a value that only a user has (a new key from a
//! provider's dashboard), and must not receive it in its conversation. It asks for a one-time link; the user opens
//! it, types the value, and the value is stored at the named path in the asker's name, without
//! passing through the asker's conversation. What the asker may do with it afterwards (read
//! it, have it sent to allowed hosts, nothing) is what its policies say, and the page tells
//! the user before they type.
//!
//! Asking needs `write` on the path (the value is written in the asker's name), and the link
//! works only while the asker could still write it: when the value arrives, the asker's
//! standing and permission are checked again, from the user's address, as a share checks
//! its creator's. A link works once, for [`LIFETIME`], and no longer than the credential that
//! asked for it. Its token is a capability, stored only as a keyed hash.

use std::net::IpAddr;
use std::sync::Arc;

use clawvault_core::action::Action;
use clawvault_core::egress::ALLOWED_HOSTS;
use clawvault_core::policy::Permission;
use clawvault_core::scope::Scope;
use clawvault_core::time_util::now;
use clawvault_core::{SecretPath, SecretType, SecretValue};
use clawvault_store::{AuditBatch, PrincipalKind, SecretRequestRecord, VersionMeta};
use time::{Duration, OffsetDateTime};

use super::access;
use super::secrets::{self, NewVersion, NextValue, Rotation, SecretVersion};
use crate::auth::{Actor, Caller};
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use crate::request_links::RequestLinks;
use crate::state::{AppState, OpenVault};

/// How long a link works.
pub const LIFETIME: Duration = Duration::minutes(15);
/// Links one identity may have open at once: asking is cheap, and every open link is a way
/// to write in its name.
pub const MAX_OPEN: i64 = 20;
/// Longest description shown on the page.
pub const MAX_DESCRIPTION_LEN: usize = 500;
/// Longest value a user may enter (a PEM key fits many times over).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Used and expired requests are kept this long (for the audit trail's row ids to resolve
/// while anyone still looks), then forgotten.
const KEPT_AFTER_EXPIRY: Duration = Duration::days(1);

/// A request to ask for.
#[derive(Debug)]
pub struct NewRequest {
    /// Where the value goes.
    pub path: String,
    /// What the user is asked for, shown on the page.
    pub description: String,
    /// The stored version's type when the secret is new (default `api_key`); an existing
    /// secret keeps its own.
    pub secret_type: Option<String>,
}

/// An issued request: the link goes to the user, nowhere else.
#[derive(Debug)]
pub struct IssuedRequest {
    /// The one-time page.
    pub url: String,
    /// The link stops working then.
    pub expires_at: OffsetDateTime,
    /// The vault's name.
    pub vault_name: String,
    /// The path the value will be stored at.
    pub path: String,
}

/// What the page shows about an open request (never a value: there is none yet).
#[derive(Debug)]
pub struct PendingRequest {
    /// Who asked (agent or user name).
    pub asked_by: String,
    /// `agent` or `user`.
    pub asked_by_kind: &'static str,
    /// The vault's name.
    pub vault_name: String,
    /// The path.
    pub path: String,
    /// What the asker said the value is.
    pub description: String,
    /// Whether a value is stored there already (entering one makes a new version); told only
    /// when the asker may read or list the path.
    pub replaces: bool,
    /// The secret's current version (0: none): the form is bound to it.
    pub version: i64,
    /// Whether the asker may read the value it asked for.
    pub may_read: bool,
    /// Whether the asker may use it (have it sent to its allowed hosts).
    pub may_use: bool,
    /// Where the secret may be sent (`allowed_hosts` of the current version).
    pub allowed_hosts: Vec<String>,
    /// The link stops working then.
    pub expires_at: OffsetDateTime,
}

/// The same answer for a link that never existed, was used, or expired: the page must not
/// tell a guesser which.
fn dead_link() -> ApiError {
    ApiError::NotFound(
        "this link does not work: it was already used, it expired, or it never existed. Ask the agent for a new one"
            .into(),
    )
}

/// The link of a request: under `public_url` (set at start from the listen address when not
/// configured), never from a request's `Host` header, which the caller writes.
fn link(state: &AppState, token: &str) -> String {
    let base = state.config.public_url.as_deref().unwrap_or("http://localhost");
    format!("{}/request/{token}", base.trim_end_matches('/'))
}

/// Asks for a value to be entered at `vault_ref`/`new.path`.
///
/// # Errors
/// 400 (path, description, type), 403 (no `write` there), 404 vault, 429 (too many open links).
pub async fn create(state: &AppState, caller: &Caller, vault_ref: &str, new: NewRequest) -> ApiResult<IssuedRequest> {
    let mut op = Op::new(state, caller, Action::SecretRequestCreate);
    op.resource(format!("{vault_ref}/{}", new.path.chars().take(600).collect::<String>()));
    let result = create_in(state, &mut op, caller, vault_ref, new).await;
    op.finish(result).await
}

async fn create_in(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    vault_ref: &str,
    new: NewRequest,
) -> ApiResult<IssuedRequest> {
    access::require_scope(caller, Scope::SecretsWrite)?;
    let (vault, path) = secrets::locate(state, op, caller, vault_ref, &new.path, Permission::Write).await?;
    super::free_text("description", &new.description, MAX_DESCRIPTION_LEN, false)?;
    let secret_type = secrets::parse_type(new.secret_type.as_deref())?.unwrap_or(SecretType::ApiKey);
    let at = now();
    if state.store.open_secret_requests(caller.principal.id(), at).await? >= MAX_OPEN {
        return Err(ApiError::TooManyRequests {
            retry_after: u64::try_from(LIFETIME.whole_seconds()).unwrap_or(900),
            detail: format!(
                "you have {MAX_OPEN} secret request links open: wait until they are used or expire ({} minutes after they were made)",
                LIFETIME.whole_minutes()
            ),
        });
    }
    // A link lives no longer than the credential that asked for it.
    let expires_at = access::earliest(Some(at + LIFETIME), access::mint_limit(state, caller).await?).unwrap_or(at);
    if expires_at <= at {
        return Err(ApiError::Forbidden("your credential expires now: renew it before asking for a secret".into()));
    }
    let token = RequestLinks::token()?;
    let row = state.request_links.row(&token);
    let request = SecretRequestRecord {
        id: row,
        vault_id: vault.record.id,
        path: path.as_str().to_owned(),
        secret_type,
        description: new.description,
        requested_by: caller.principal.id(),
        requested_by_type: caller.principal.kind(),
        requested_with_key: match caller.principal.actor {
            Actor::User { api_key_id, .. } => Some(api_key_id),
            Actor::Agent { .. } => None,
        },
        requested_generation: match caller.principal.actor {
            Actor::Agent { token_generation, .. } => Some(token_generation),
            Actor::User { .. } => None,
        },
        created_at: at,
        expires_at,
        used_at: None,
    };
    op.resource(row.to_string());
    op.detail("path", path.as_str());
    op.detail("type", secret_type.as_str());
    let event = op.success();
    state
        .store
        .create_secret_request(&request, at - KEPT_AFTER_EXPIRY, AuditBatch::new(&state.chain_key, &[event]))
        .await?;
    Ok(IssuedRequest {
        url: link(state, &token),
        expires_at,
        vault_name: vault.record.name.clone(),
        path: request.path,
    })
}

/// An open request, by the link's token, whose asker still stands (same agent generation, or
/// the same user key) and may still write its path.
struct Live {
    request: SecretRequestRecord,
    asker: Caller,
    vault: Arc<OpenVault>,
    path: SecretPath,
}

async fn live(state: &AppState, op: &mut Op<'_>, token: &str, ip: Option<IpAddr>) -> ApiResult<Live> {
    let row = state.request_links.row(token);
    op.resource(row.to_string());
    // Before any work: a link's holder (or a guesser) may not turn page loads into audit writes.
    state.limits.before_request_page(ip, &row.to_string())?;
    let request = state
        .store
        .secret_request(row)
        .await?
        .filter(|r| r.used_at.is_none() && r.expires_at > OffsetDateTime::now_utc())
        .ok_or_else(dead_link)?;
    op.vault(request.vault_id);
    op.detail("path", request.path.as_str());
    op.detail("requested_by", request.requested_by.to_string());
    let asker =
        access::standing(state, request.requested_by_type, request.requested_by, request.requested_with_key, ip)
            .await?
            .ok_or_else(withdrawn)?;
    // A re-key (or deactivation, new binding) cuts the agent's links as it cuts its tokens: a
    // stolen key's links must not outlive the key.
    if let Actor::Agent { token_generation, .. } = &asker.principal.actor
        && request.requested_generation != Some(*token_generation)
    {
        return Err(withdrawn());
    }
    let vault = state.vault(&request.vault_id.to_string()).await?.ok_or_else(dead_link)?;
    let path = SecretPath::parse(&request.path)
        .map_err(|e| ApiError::Integrity(format!("a secret request names a stored path that does not parse: {e}")))?;
    access::require_scope(&asker, Scope::SecretsWrite).map_err(|_| withdrawn())?;
    access::check_path(state, &asker, &vault.record, &path, Permission::Write).await.map_err(|_| withdrawn())?;
    Ok(Live { request, asker, vault, path })
}

fn withdrawn() -> ApiError {
    ApiError::Gone(
        "this link no longer works: whoever asked was removed, deactivated, re-keyed, or may no longer write this secret. Ask for a new one"
            .into(),
    )
}

/// Whether `caller` holds `permission` on `path`.
async fn holds(
    state: &AppState,
    caller: &Caller,
    vault: &OpenVault,
    path: &SecretPath,
    permission: Permission,
) -> ApiResult<bool> {
    Ok(!access::permitted(state, caller, &vault.record, vec![path.clone()], permission).await?.is_empty())
}

/// The current version of the live secret at the request's path, if there is one.
async fn current(state: &AppState, live: &Live) -> ApiResult<Option<VersionMeta>> {
    let found = state.store.version(live.vault.record.id, live.path.as_str(), None).await?;
    Ok(found.filter(|(secret, _)| secret.deleted_at.is_none()).map(|(_, record)| record.meta))
}

/// What the page of `token` shows.
///
/// # Errors
/// 404 (unknown, used or expired link), 410 (the asker may no longer write there), 429.
pub async fn show(state: &AppState, ip: Option<IpAddr>, token: &str) -> ApiResult<PendingRequest> {
    let mut op = Op::anonymous(state, ip, Action::SecretRequestView);
    let result = async {
        let live = live(state, &mut op, token, ip).await?;
        let asked_by = match live.request.requested_by_type {
            PrincipalKind::Agent => state.store.agent(live.request.requested_by).await?.map(|a| a.name),
            PrincipalKind::User => state.store.user(live.request.requested_by).await?.map(|u| u.name),
        }
        .ok_or_else(withdrawn)?;
        let may_read = holds(state, &live.asker, &live.vault, &live.path, Permission::Read).await?;
        let may_use = holds(state, &live.asker, &live.vault, &live.path, Permission::Use).await?;
        let may_list = holds(state, &live.asker, &live.vault, &live.path, Permission::List).await?;
        let current = current(state, &live).await?;
        let version = current.as_ref().map_or(0, |m| m.version);
        let allowed_hosts = current
            .and_then(|m| serde_json::from_str::<serde_json::Value>(&m.metadata).ok())
            .and_then(|m| m.get(ALLOWED_HOSTS).and_then(|a| a.as_array()).cloned())
            .map(|hosts| hosts.iter().filter_map(|h| h.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Ok(PendingRequest {
            asked_by,
            asked_by_kind: live.request.requested_by_type.as_str(),
            vault_name: live.vault.record.name.clone(),
            path: live.request.path,
            description: live.request.description,
            // Whether a secret is there is told only to a page whose asker may know it.
            replaces: (may_read || may_list) && version > 0,
            version,
            may_read,
            may_use,
            allowed_hosts,
            expires_at: live.request.expires_at,
        })
    }
    .await;
    op.finish(result).await
}

/// Types whose values are files: kept byte for byte (a private key file ends with a line
/// break some tools insist on).
fn is_file_like(t: SecretType) -> bool {
    matches!(t, SecretType::PrivateKey | SecretType::SshKey | SecretType::Certificate | SecretType::File)
}

/// Stores `value`, entered on the page of `token` that showed the secret at `shown_version`
/// (0: none), in the asker's name; the link is spent.
///
/// # Errors
/// 400 (empty or oversized value), 404 (unknown, used or expired link), 409 (the secret
/// changed since the page was shown), 410 (the asker may no longer write there), 429; a failed
/// store leaves the link usable.
pub async fn fulfil(
    state: &AppState,
    ip: Option<IpAddr>,
    token: &str,
    value: SecretValue,
    shown_version: i64,
) -> ApiResult<SecretVersion> {
    let mut op = Op::anonymous(state, ip, Action::SecretRequestFulfil);
    let result = async {
        let live = live(state, &mut op, token, ip).await?;
        let current = current(state, &live).await?;
        let version = current.as_ref().map_or(0, |m| m.version);
        // What the page said the agent could do with the value must still hold when it is
        // stored: a change in between (new allowed hosts, say) needs a fresh look.
        if version != shown_version {
            return Err(ApiError::Conflict(format!(
                "{:?} changed since this page was shown: reload the page, check what it says, and enter the value again",
                live.request.path
            )));
        }
        let secret_type = current.map_or(live.request.secret_type, |m| m.secret_type);
        let value = match value.expose().strip_suffix(b"\n") {
            // A pasted value usually drags a line break along, which nobody means to store.
            Some(trimmed) if !is_file_like(secret_type) => SecretValue::new(trimmed.to_vec()),
            _ => value,
        };
        if value.is_empty() {
            return Err(ApiError::Invalid { field: "value", problem: "is empty: paste the value to store".into() });
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(ApiError::Invalid {
                field: "value",
                problem: format!("is longer than {} KiB; store it with the CLI instead", MAX_VALUE_BYTES / 1024),
            });
        }
        // Spent before the write, so that two submissions never store two values; given back
        // when the write fails, so that the user can try again.
        if !state.store.claim_secret_request(live.request.id, now()).await? {
            return Err(dead_link());
        }
        // On a task of its own: a browser that goes away mid-write must not leave the link
        // spent and nothing stored.
        let (task_state, id) = (state.clone(), live.request.id);
        let stored = tokio::spawn(async move { store(&task_state, live, value, version > 0).await })
            .await
            .unwrap_or_else(|e| Err(ApiError::Internal(format!("storing a requested secret failed: {e}"))));
        match stored {
            Ok(version) => {
                op.detail("version", version.meta.version);
                Ok(version)
            }
            Err(e) => {
                if let Err(release) = state.store.release_secret_request(id).await {
                    tracing::error!(%release, "a secret request link stays spent after a failed write");
                }
                Err(match e.unhinted().0 {
                    ApiError::Forbidden(_) | ApiError::NotFound(_) => withdrawn(),
                    _ => e,
                })
            }
        }
    }
    .await;
    op.finish(result).await
}

/// Writes the value: an existing secret keeps its type and metadata (its allowed hosts above
/// all), as a rotation does; a new one gets the requested type.
async fn store(state: &AppState, live: Live, value: SecretValue, exists: bool) -> ApiResult<SecretVersion> {
    let vault_ref = live.request.vault_id.to_string();
    if exists {
        let rotation = Rotation { next: NextValue::Given(value), secret_type: None };
        secrets::rotate(state, &live.asker, &vault_ref, &live.request.path, rotation).await
    } else {
        let new = NewVersion::parse(value, Some(live.request.secret_type.as_str()), None, None, None)?;
        secrets::write(state, &live.asker, &vault_ref, &live.request.path, new).await
    }
}
