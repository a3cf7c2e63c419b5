//! Policies: grants (and denials) for one user or agent on path globs of one vault, managed
//! by the vault's owner and admins. A change applies to the principal's next request.

use clawvault_core::action::Action;
use clawvault_core::policy::{Conditions, Effect, PathPattern, Permission, PolicyError};
use clawvault_core::scope::Scope;
use clawvault_core::time_util::now;
use clawvault_store::{AuditBatch, Change, PolicyRecord, PrincipalKind};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{access, require_future, vaults};
use crate::auth::Caller;
use crate::changes;
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use crate::state::AppState;

/// The changeable part of a policy.
#[derive(Debug, Clone)]
pub struct Terms {
    /// Permission names.
    pub permissions: Vec<String>,
    /// `allow` or `deny`.
    pub effect: String,
    /// Conditions JSON.
    pub conditions: serde_json::Value,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Recorded.
    pub priority: i64,
}

/// A change to a policy's terms: what is `None` stays as it is.
#[derive(Debug, Clone, Default)]
pub struct TermsChange {
    /// Permission names.
    pub permissions: Option<Vec<String>>,
    /// `allow` or `deny`.
    pub effect: Option<String>,
    /// Conditions JSON.
    pub conditions: Option<serde_json::Value>,
    /// Expiry (an expiry once set can be moved, not removed).
    pub expires_at: Option<OffsetDateTime>,
    /// Recorded.
    pub priority: Option<i64>,
}

impl TermsChange {
    /// The terms of `current` with this change applied.
    fn applied_to(self, current: &PolicyRecord) -> Terms {
        Terms {
            permissions: self
                .permissions
                .unwrap_or_else(|| current.permissions.iter().map(|p| p.as_str().to_owned()).collect()),
            effect: self.effect.unwrap_or_else(|| current.effect.as_str().to_owned()),
            conditions: self.conditions.unwrap_or_else(|| current.conditions.to_json()),
            expires_at: self.expires_at.or(current.expires_at),
            priority: self.priority.unwrap_or(current.priority),
        }
    }
}

fn bad(e: PolicyError) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

/// Terms as a policy holds them: permissions parsed (each once, in the order given), effect
/// and conditions validated.
struct Checked {
    permissions: Vec<Permission>,
    effect: Effect,
    conditions: Conditions,
}

fn check_terms(t: &Terms) -> ApiResult<Checked> {
    if t.permissions.is_empty() {
        return Err(bad(PolicyError::NoPermissions));
    }
    let mut permissions = Vec::new();
    for name in &t.permissions {
        let p: Permission = name.parse().map_err(bad)?;
        if !permissions.contains(&p) {
            permissions.push(p);
        }
    }
    let effect: Effect = t.effect.parse().map_err(bad)?;
    let conditions = Conditions::from_json(&t.conditions).map_err(bad)?;
    require_future("expires_at", t.expires_at)?;
    Ok(Checked { permissions, effect, conditions })
}

fn permission_names(permissions: &[Permission]) -> String {
    permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
}

async fn principal_exists(state: &AppState, kind: PrincipalKind, id: Uuid) -> ApiResult<bool> {
    Ok(match kind {
        PrincipalKind::User => state.store.user(id).await?.is_some(),
        PrincipalKind::Agent => state.store.agent(id).await?.is_some(),
    })
}

/// A policy to create.
#[derive(Debug, Clone)]
pub struct NewPolicy {
    /// `user` or `agent`.
    pub kind: String,
    /// Whom it names.
    pub principal_id: Uuid,
    /// Path glob.
    pub pattern: String,
    /// What it grants or refuses.
    pub terms: Terms,
}

/// Creates a policy in a vault the caller owns.
///
/// # Errors
/// 400 (pattern, permissions, conditions, unknown principal), 403, 404.
pub async fn create(state: &AppState, caller: &Caller, vault_ref: &str, new: NewPolicy) -> ApiResult<PolicyRecord> {
    let mut op = Op::new(state, caller, Action::PolicyCreate);
    op.resource(vault_ref.to_owned());
    let result = create_in(state, &mut op, caller, vault_ref, new).await;
    op.finish(result).await
}

async fn create_in(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    vault_ref: &str,
    new: NewPolicy,
) -> ApiResult<PolicyRecord> {
    access::require_scope(caller, Scope::PoliciesWrite)?;
    let NewPolicy { kind, principal_id, pattern, terms } = new;
    let (kind, pattern) = (kind.as_str(), pattern.as_str());
    let vault = vaults::open(state, op, caller, vault_ref).await?;
    access::require_owner(state, caller, &vault.record, "manage its policies").await?;
    let kind = PrincipalKind::parse(kind)
        .ok_or_else(|| ApiError::BadRequest(format!("principal_type {kind:?} is unknown: use user or agent")))?;
    PathPattern::parse(pattern).map_err(bad)?;
    let Checked { permissions, effect, conditions } = check_terms(&terms)?;
    // Only admins, who may list everyone anyway, are told that nobody has this id: to anyone
    // else the answer would say which ids exist. Such a policy grants nothing.
    if caller.principal.is_admin() && !principal_exists(state, kind, principal_id).await? {
        return Err(ApiError::Invalid {
            field: "principal_id",
            problem: format!("names no {} (there is no {} {principal_id})", kind.as_str(), kind.as_str()),
        });
    }
    let policy = PolicyRecord {
        id: Uuid::new_v4(),
        vault_id: vault.record.id,
        principal_kind: kind,
        principal_id,
        secret_path_pattern: pattern.to_owned(),
        permissions,
        effect,
        conditions,
        priority: terms.priority,
        expires_at: terms.expires_at,
        created_by: caller.principal.id(),
        created_by_type: caller.principal.kind(),
        created_at: now(),
    };
    op.resource(policy.id.to_string());
    op.detail("principal", format!("{}:{principal_id}", kind.as_str()));
    op.detail("pattern", pattern);
    op.detail("permissions", permission_names(&policy.permissions));
    op.detail("effect", policy.effect.as_str());
    let event = op.success();
    let changed = [Change::Policies(principal_id)];
    state.store.create_policy(&policy, AuditBatch::new(&state.chain_key, &[event]).changing(&changed)).await?;
    changes::committed(state, &changed).await;
    Ok(policy)
}

/// A vault's policies.
///
/// # Errors
/// 403, 404.
pub async fn list(state: &AppState, caller: &Caller, vault_ref: &str) -> ApiResult<Vec<PolicyRecord>> {
    let mut op = Op::new(state, caller, Action::PolicyList);
    op.resource(vault_ref.to_owned());
    let result = async {
        access::require_scope(caller, Scope::PoliciesRead)?;
        let vault = vaults::open(state, &mut op, caller, vault_ref).await?;
        access::require_owner(state, caller, &vault.record, "read its policies").await?;
        Ok(state.store.list_policies(vault.record.id).await?)
    }
    .await;
    op.finish(result).await
}

async fn owned_policy(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    vault_ref: &str,
    raw_id: &str,
) -> ApiResult<PolicyRecord> {
    op.resource(raw_id.to_owned());
    let id = super::id(raw_id, "policy id")?;
    let vault = vaults::open(state, op, caller, vault_ref).await?;
    access::require_owner(state, caller, &vault.record, "manage its policies").await?;
    match state.store.policy(id).await? {
        Some(p) if p.vault_id == vault.record.id => Ok(p),
        _ => Err(ApiError::NotFound(format!("vault {vault_ref:?} has no policy {id}"))),
    }
}

/// Changes a policy's permissions, effect, conditions, expiry (pattern and principal are
/// fixed); what `change` leaves out stays as it is.
///
/// # Errors
/// 400, 403, 404.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    vault_ref: &str,
    id: &str,
    change: TermsChange,
) -> ApiResult<PolicyRecord> {
    let mut op = Op::new(state, caller, Action::PolicyUpdate);
    let result = async {
        access::require_scope(caller, Scope::PoliciesWrite)?;
        let mut policy = owned_policy(state, &mut op, caller, vault_ref, id).await?;
        let terms = change.applied_to(&policy);
        let checked = check_terms(&terms)?;
        policy.permissions = checked.permissions;
        policy.effect = checked.effect;
        policy.conditions = checked.conditions;
        policy.expires_at = terms.expires_at;
        policy.priority = terms.priority;
        op.detail("permissions", permission_names(&policy.permissions));
        op.detail("effect", policy.effect.as_str());
        let event = op.success();
        let changed = [Change::Policies(policy.principal_id)];
        state.store.update_policy(&policy, AuditBatch::new(&state.chain_key, &[event]).changing(&changed)).await?;
        changes::committed(state, &changed).await;
        Ok(policy)
    }
    .await;
    op.finish(result).await
}

/// Deletes a policy.
///
/// # Errors
/// 400 (not a policy id), 403, 404.
pub async fn delete(state: &AppState, caller: &Caller, vault_ref: &str, id: &str) -> ApiResult<()> {
    let mut op = Op::new(state, caller, Action::PolicyDelete);
    let result = async {
        access::require_scope(caller, Scope::PoliciesWrite)?;
        let policy = owned_policy(state, &mut op, caller, vault_ref, id).await?;
        let event = op.success();
        let changed = [Change::Policies(policy.principal_id)];
        state.store.delete_policy(policy.id, AuditBatch::new(&state.chain_key, &[event]).changing(&changed)).await?;
        changes::committed(state, &changed).await;
        Ok(())
    }
    .await;
    op.finish(result).await
}
