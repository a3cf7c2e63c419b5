//! Vault operations.

use clawvault_core::scope::Scope;
use std::sync::Arc;

use clawvault_core::VaultName;
use clawvault_core::crypto::{DataKey, vault_key_context};
use clawvault_core::time_util::now;
use clawvault_store::{AuditBatch, Change, PrincipalKind, StoreError, VaultRecord};
use uuid::Uuid;

use crate::auth::{Actor, Caller};
use crate::changes;
use crate::error::{ApiError, ApiResult, Hint};
use crate::op::Op;
use crate::service::access;
use crate::state::{AppState, OpenVault};
use clawvault_core::action::Action;

/// Longest vault description.
pub const MAX_DESCRIPTION_LEN: usize = 4096;

/// Finds a vault by id or name that the caller may see. For everyone but admins, a vault that
/// does not exist and one they may not see are refused alike (403), so names cannot be probed.
///
/// # Errors
/// 404 (admins) or 403.
pub async fn open(state: &AppState, op: &mut Op<'_>, caller: &Caller, reference: &str) -> ApiResult<Arc<OpenVault>> {
    let Some(vault) = state.vault(reference).await? else {
        return Err(if caller.principal.is_admin() {
            ApiError::NotFound(format!("no vault {reference:?}")).hint(Hint::ListVaults)
        } else {
            access::hidden(reference)
        });
    };
    if !access::sees(state, caller, &vault.record).await? {
        return Err(access::hidden(reference));
    }
    op.vault(vault.record.id);
    Ok(vault)
}

/// One vault the caller may see (`GET /v1/vaults/{id}`).
///
/// # Errors
/// 403 (also for a vault that does not exist).
pub async fn get(state: &AppState, caller: &Caller, reference: &str) -> ApiResult<Arc<OpenVault>> {
    let mut op = Op::new(state, caller, Action::VaultRead);
    op.resource(reference.to_owned());
    let result = async {
        access::require_scope(caller, Scope::VaultsRead)?;
        open(state, &mut op, caller, reference).await
    }
    .await;
    op.finish(result).await
}

/// Creates a vault with a fresh data key wrapped by the root key.
///
/// # Errors
/// 400 for a bad name or description, 409 when the name is taken.
pub async fn create(state: &AppState, caller: &Caller, name: &str, description: &str) -> ApiResult<VaultRecord> {
    let mut op = Op::new(state, caller, Action::VaultCreate);
    op.resource(name.to_owned());
    let result = async {
        access::require_scope(caller, Scope::VaultsWrite)?;
        access::require_unbound(caller)?;
        create_for(state, &mut op, caller.principal.id(), caller.principal.kind(), name, description).await
    }
    .await;
    op.finish(result).await
}

/// Creates a vault owned by `created_by` (a user or agent id of `created_by_type`).
///
/// # Errors
/// 400 for a bad name or description, 409 when the name is taken.
pub async fn create_for(
    state: &AppState,
    op: &mut Op<'_>,
    created_by: Uuid,
    created_by_type: PrincipalKind,
    name: &str,
    description: &str,
) -> ApiResult<VaultRecord> {
    op.resource(name.to_owned());
    let name = VaultName::parse(name).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    super::free_text("description", description, MAX_DESCRIPTION_LEN, false)?;
    let id = Uuid::new_v4();
    let key = DataKey::generate().map_err(|e| ApiError::Internal(e.to_string()))?;
    let wrapped_key = state
        .root
        .wrap(&key, &vault_key_context(id))
        .map_err(|e| ApiError::Unavailable(format!("the root key provider cannot wrap a new vault key: {e}")))?;
    let record = VaultRecord {
        id,
        name: name.as_str().to_owned(),
        description: description.to_owned(),
        created_by,
        created_by_type,
        created_at: now(),
        wrapped_key,
        root_key_id: state.root.key_id().to_owned(),
    };
    op.resource(id.to_string());
    op.vault(id);
    op.detail("name", name.as_str());
    let event = op.success();
    state.store.create_vault(&record, AuditBatch::new(&state.chain_key, &[event])).await.map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::Conflict(format!("a vault named {:?} already exists", record.name)),
        other => other.into(),
    })?;
    Ok(record)
}

/// Vaults the caller may see.
///
/// # Errors
/// Storage failures.
pub async fn list(state: &AppState, caller: &Caller) -> ApiResult<Vec<VaultRecord>> {
    access::require_scope(caller, Scope::VaultsRead)?;
    let mut visible = Vec::new();
    for v in state.store.list_vaults().await? {
        if access::sees(state, caller, &v).await? {
            visible.push(v);
        }
    }
    Ok(visible)
}

/// The vault a caller means when it names none: the only one it may see (an agent bound to
/// one vault, a user with one).
///
/// # Errors
/// 404 when it sees none; 400 naming `vault` (and some of the candidates) when it sees several.
pub async fn sole(state: &AppState, caller: &Caller) -> ApiResult<VaultRecord> {
    // The common case, an agent bound to one vault, without a scan of every vault.
    if let Actor::Agent { vault_ids, .. } = &caller.principal.actor
        && let [only] = vault_ids.as_slice()
        && access::has_scope(caller, Scope::VaultsRead)
        && let Some(vault) = state.vault(&only.to_string()).await?
        && access::sees(state, caller, &vault.record).await?
    {
        return Ok(vault.record.clone());
    }
    let visible = list(state, caller).await?;
    match visible.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ApiError::NotFound(
            "no vault is visible to this caller: an admin creates one or grants access to one".into(),
        )),
        many => {
            let names: Vec<&str> = many.iter().take(10).map(|v| v.name.as_str()).collect();
            let more = if many.len() > names.len() { ", ..." } else { "" };
            Err(ApiError::Invalid {
                field: "vault",
                problem: format!("is needed: {} vaults are visible ({}{more})", many.len(), names.join(", ")),
            })
        }
    }
}

/// Deletes a vault and every secret in it.
///
/// # Errors
/// 404, 403.
pub async fn delete(state: &AppState, caller: &Caller, reference: &str) -> ApiResult<()> {
    let mut op = Op::new(state, caller, Action::VaultDelete);
    op.resource(reference.to_owned());
    let result = async {
        access::require_scope(caller, Scope::VaultsWrite)?;
        let vault = open(state, &mut op, caller, reference).await?;
        access::require_owner(state, caller, &vault.record, "delete it").await?;
        op.resource(vault.record.id.to_string());
        op.detail("name", vault.record.name.as_str());
        let event = op.success();
        let changed = [Change::Vault(vault.record.id)];
        let deleted = state
            .store
            .delete_vault(vault.record.id, AuditBatch::new(&state.chain_key, &[event]).changing(&changed))
            .await?;
        changes::committed(state, &changed).await;
        if deleted { Ok(()) } else { Err(ApiError::NotFound(format!("no vault {reference:?}"))) }
    }
    .await;
    op.finish(result).await
}
