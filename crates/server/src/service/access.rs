//! Who may do what. Admins may do everything. The creator of a vault owns it (and so does the
//! user who created the agent that created it). Everyone else needs a policy: deny by
//! default, a deny policy wins, conditions and expiry apply. Agents bound to vaults
//! (`vault_ids`) are refused everywhere else. Decisions are made on the path before anything is
//! looked up, so a refusal never tells whether a secret exists.

use std::net::IpAddr;
use std::sync::Arc;

use clawvault_core::SecretPath;
use clawvault_core::policy::{Decision, Effect, PathPattern, Permission, Policy, Request, decide};
use clawvault_core::scope::Scope;
use clawvault_store::{PolicyRecord, PrincipalKind, VaultRecord};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::{Actor, Caller, Credential, Principal};
use crate::caches::Policies;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Parses a stored policy into a policy.
///
/// # Errors
/// The policy error, for stored data that no longer parses.
pub fn parse_policy(p: &PolicyRecord) -> Result<Policy, clawvault_core::policy::PolicyError> {
    Ok(Policy {
        effect: p.effect,
        pattern: PathPattern::parse(&p.secret_path_pattern)?,
        permissions: p.permissions.clone(),
        conditions: p.conditions.clone(),
        expires_at: p.expires_at,
    })
}

async fn policies(state: &AppState, kind: PrincipalKind, id: Uuid) -> ApiResult<Policies> {
    if let Some(hit) = state.policies.get(id) {
        return Ok(hit);
    }
    let epoch = state.policies.epoch();
    let parsed: Vec<(Uuid, Policy)> = state
        .store
        .policies_of(kind, id)
        .await?
        .iter()
        .filter_map(|p| match parse_policy(p) {
            Ok(policy) => Some((p.vault_id, policy)),
            Err(e) => {
                tracing::warn!(policy = %p.id, error = %e, "stored policy does not parse; ignored");
                None
            }
        })
        .collect();
    let parsed = Arc::new(parsed);
    state.policies.put(epoch, id, Arc::clone(&parsed));
    Ok(parsed)
}

/// A principal's policies in one vault.
fn in_vault(all: &[(Uuid, Policy)], vault_id: Uuid) -> impl Iterator<Item = &Policy> {
    all.iter().filter(move |(v, _)| *v == vault_id).map(|(_, r)| r)
}

/// Whether the caller's credential carries `scope` (agents' keys are not scoped: their
/// policies decide).
#[must_use]
pub fn has_scope(caller: &Caller, scope: Scope) -> bool {
    let p = &caller.principal;
    p.is_agent() || scope.allowed_by(&p.scopes)
}

/// Refuses a vault creation by an agent bound to vaults: it could not use the new one.
///
/// # Errors
/// 403 saying who can help.
pub fn require_unbound(caller: &Caller) -> ApiResult<()> {
    match &caller.principal.actor {
        Actor::Agent { vault_ids, .. } if !vault_ids.is_empty() => Err(ApiError::Forbidden(format!(
            "this agent is bound to {} vault(s) and could not use a vault it created: a user creates the vault and grants access, or removes the agent's binding",
            vault_ids.len()
        ))),
        _ => Ok(()),
    }
}

/// Whether an agent's vault binding keeps it out of `vault`.
fn bound_out(caller: &Caller, vault: &VaultRecord) -> bool {
    matches!(&caller.principal.actor, Actor::Agent { vault_ids, .. } if !vault_ids.is_empty() && !vault_ids.contains(&vault.id))
}

/// Whether the caller owns `vault` (or is an admin).
async fn owns(state: &AppState, caller: &Caller, vault: &VaultRecord) -> ApiResult<bool> {
    let p = &caller.principal;
    if p.is_admin() || vault.created_by == p.id() {
        return Ok(true);
    }
    // A vault an agent created belongs to the user who created that agent, too.
    if vault.created_by_type == PrincipalKind::Agent && !p.is_agent() {
        return Ok(state.store.agent(vault.created_by).await?.is_some_and(|a| a.created_by == p.id()));
    }
    Ok(false)
}

fn no_access(vault: &VaultRecord) -> ApiError {
    ApiError::Forbidden(format!("you have no access to vault {:?}: ask its owner or an admin for a policy", vault.name))
}

/// Checks that the caller may do `permission` on `path` in `vault`.
///
/// # Errors
/// [`ApiError::Forbidden`] saying whether a deny policy or the lack of an allowing policy refused it.
pub async fn check_path(
    state: &AppState,
    caller: &Caller,
    vault: &VaultRecord,
    path: &SecretPath,
    permission: Permission,
) -> ApiResult<()> {
    if bound_out(caller, vault) {
        return Err(ApiError::Forbidden(format!("this agent is bound to other vaults than {:?}", vault.name)));
    }
    if owns(state, caller, vault).await? {
        return Ok(());
    }
    let p = &caller.principal;
    let all = policies(state, p.kind(), p.id()).await?;
    let req = Request { path, permission, ip: caller.ip, now: OffsetDateTime::now_utc() };
    match decide(in_vault(&all, vault.id), &req) {
        Decision::Allow => Ok(()),
        Decision::Denied => Err(ApiError::Forbidden(format!(
            "a deny policy refuses {permission} on {path:?} in vault {:?}",
            vault.name
        ))),
        Decision::NoPolicy => Err(ApiError::Forbidden(format!(
            "no policy grants {permission} on {path:?} in vault {:?}: ask its owner or an admin",
            vault.name
        ))),
    }
}

/// The paths of `candidates` on which the caller may do `permission` (all of them for owners
/// and admins).
///
/// # Errors
/// Storage failures.
pub async fn permitted(
    state: &AppState,
    caller: &Caller,
    vault: &VaultRecord,
    candidates: Vec<SecretPath>,
    permission: Permission,
) -> ApiResult<Vec<SecretPath>> {
    if bound_out(caller, vault) {
        return Ok(Vec::new());
    }
    if owns(state, caller, vault).await? {
        return Ok(candidates);
    }
    let p = &caller.principal;
    let all = policies(state, p.kind(), p.id()).await?;
    let now = OffsetDateTime::now_utc();
    Ok(candidates
        .into_iter()
        .filter(|path| {
            let req = Request { path, permission, ip: caller.ip, now };
            decide(in_vault(&all, vault.id), &req) == Decision::Allow
        })
        .collect())
}

/// Whether the caller sees `vault` at all: owners, admins, and principals with a policy in it.
///
/// # Errors
/// Storage failures.
pub async fn sees(state: &AppState, caller: &Caller, vault: &VaultRecord) -> ApiResult<bool> {
    if bound_out(caller, vault) {
        return Ok(false);
    }
    if owns(state, caller, vault).await? {
        return Ok(true);
    }
    let p = &caller.principal;
    let now = OffsetDateTime::now_utc();
    Ok(policies(state, p.kind(), p.id())
        .await?
        .iter()
        .any(|(v, r)| *v == vault.id && r.effect == Effect::Allow && r.expires_at.is_none_or(|at| now < at)))
}

/// A user or agent as a caller at `ip` now, judged from their stored record instead of a
/// token (a share opens with its creator's standing): `None` when they no longer exist, or
/// (agents) were deactivated or expired, or (users) `key`, the API key they acted with, was
/// deleted or expired. The caller carries that key's scopes.
///
/// # Errors
/// Storage failures.
pub async fn standing(
    state: &AppState,
    kind: PrincipalKind,
    id: Uuid,
    key: Option<Uuid>,
    ip: Option<IpAddr>,
) -> ApiResult<Option<Caller>> {
    let now = OffsetDateTime::now_utc();
    let mut scopes = Vec::new();
    let actor = match kind {
        PrincipalKind::User => {
            let Some(user) = state.store.user(id).await? else { return Ok(None) };
            if let Some(key_id) = key {
                match state.store.api_key(key_id).await? {
                    Some(k) if k.is_active && k.user_id == id && k.expires_at.is_none_or(|at| at > now) => {
                        scopes = k.scopes;
                    }
                    _ => return Ok(None),
                }
            }
            Actor::User { id, role: user.role, api_key_id: key.unwrap_or_else(Uuid::nil) }
        }
        PrincipalKind::Agent => match state.store.agent(id).await? {
            Some(a) if a.is_active && a.expires_at.is_none_or(|at| at > now) => Actor::Agent {
                id,
                created_by: a.created_by,
                vault_ids: a.vault_ids,
                token_generation: a.token_generation,
            },
            _ => return Ok(None),
        },
    };
    let principal = Principal {
        actor,
        jti: String::new(),
        issued_at_us: 0,
        expires_at: now,
        scopes,
        credential: Credential::Token,
    };
    Ok(Some(Caller { principal: Arc::new(principal), ip }))
}

/// The latest time anything the caller mints (an API key, an agent, a share) may live to: the
/// expiry of the key or agent behind the caller's credential, so that nothing outlives what
/// made it. `None`: no limit.
///
/// # Errors
/// Storage failures.
pub async fn mint_limit(state: &AppState, caller: &Caller) -> ApiResult<Option<OffsetDateTime>> {
    Ok(match &caller.principal.actor {
        Actor::User { api_key_id, .. } => state.store.api_key(*api_key_id).await?.and_then(|k| k.expires_at),
        Actor::Agent { id, .. } => state.store.agent(*id).await?.and_then(|a| earliest(a.expires_at, a.key_expires_at)),
    })
}

/// The earlier of two optional times (`None` is never).
#[must_use]
pub fn earliest(a: Option<OffsetDateTime>, b: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Checks that the caller owns `vault` (or is an admin): deleting it, managing its policies.
///
/// # Errors
/// [`ApiError::Forbidden`].
pub async fn require_owner(state: &AppState, caller: &Caller, vault: &VaultRecord, what: &str) -> ApiResult<()> {
    if !bound_out(caller, vault) && owns(state, caller, vault).await? {
        Ok(())
    } else if sees(state, caller, vault).await? {
        Err(ApiError::Forbidden(format!("only the owner of vault {:?} or an admin may {what}", vault.name)))
    } else {
        Err(no_access(vault))
    }
}

/// The refusal for a vault the caller may not see (also used when it does not exist, so that
/// non-admins cannot probe for vault names).
#[must_use]
pub fn hidden(reference: &str) -> ApiError {
    let shown: String = reference.chars().take(128).collect();
    ApiError::Forbidden(format!("you have no access to vault {shown:?}: ask its owner or an admin for a policy"))
}

/// Checks that the API key behind a user's token has `scope` (agents are not limited by
/// scopes: policies alone decide for them).
///
/// # Errors
/// [`ApiError::Forbidden`] naming the scope that is missing.
pub fn require_scope(caller: &Caller, scope: Scope) -> ApiResult<()> {
    if has_scope(caller, scope) {
        return Ok(());
    }
    let p = &caller.principal;
    Err(ApiError::Forbidden(format!(
        "this API key is limited to the scopes {}, which do not include {scope}: use a key that has it",
        p.scopes.join(", ")
    )))
}

/// Checks that the caller is an admin.
///
/// # Errors
/// [`ApiError::Forbidden`].
pub fn require_admin(caller: &Caller, what: &str) -> ApiResult<()> {
    if caller.principal.is_admin() { Ok(()) } else { Err(ApiError::Forbidden(format!("only an admin may {what}"))) }
}

/// Checks that the caller is a user, not an agent.
///
/// # Errors
/// [`ApiError::Forbidden`].
pub fn require_user(caller: &Caller, what: &str) -> ApiResult<()> {
    if caller.principal.is_agent() { Err(ApiError::Forbidden(format!("agents may not {what}"))) } else { Ok(()) }
}
