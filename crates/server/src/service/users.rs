//! People: admins create further people (admin or member), each with their own `1ck_` key.

use clawvault_core::apikey::ApiKey;
use clawvault_core::audit::Outcome;
use clawvault_core::time_util::now;
use clawvault_store::{AuditBatch, Role, StoreError, UserRecord};
use uuid::Uuid;

use super::{access, keys};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use crate::state::AppState;

/// Creates a person and their first API key (returned once). Admins only.
///
/// # Errors
/// 400 bad name or role, 403, 409 taken name.
pub async fn create(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    name: &str,
    role: &str,
) -> ApiResult<(UserRecord, ApiKey)> {
    access::require_admin(caller, "create people")?;
    let name = name.trim();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest("name must be 1 to 128 printable characters".into()));
    }
    let role = Role::parse(role)
        .ok_or_else(|| ApiError::BadRequest(format!("role {role:?} is unknown: use admin or member")))?;
    let user = UserRecord { id: Uuid::new_v4(), name: name.to_owned(), role, created_at: now() };
    op.resource(user.id.to_string());
    op.detail("name", name);
    op.detail("role", role.as_str());
    let event = op.event(Outcome::Success);
    state.store.create_user(&user, AuditBatch::new(&state.chain_key, &[event])).await.map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::Conflict(format!("a person named {name:?} exists")),
        other => other.into(),
    })?;
    let key = keys::create_for(state, op, user.id, "first key").await?;
    Ok((user, key))
}

/// Everyone. Admins only.
///
/// # Errors
/// 403.
pub async fn list(state: &AppState, caller: &Caller) -> ApiResult<Vec<UserRecord>> {
    access::require_admin(caller, "list people")?;
    Ok(state.store.list_users().await?)
}

/// Deletes a person with their keys and policies; their tokens die at once. Admins only, and
/// never the last admin.
///
/// # Errors
/// 403, 404, 409 for the last admin.
pub async fn delete(state: &AppState, op: &mut Op<'_>, caller: &Caller, id: Uuid) -> ApiResult<()> {
    access::require_admin(caller, "delete people")?;
    op.resource(id.to_string());
    let users = state.store.list_users().await?;
    let target = users.iter().find(|u| u.id == id).ok_or_else(|| ApiError::NotFound(format!("no person {id}")))?;
    if target.role == Role::Admin && users.iter().filter(|u| u.role == Role::Admin).count() == 1 {
        return Err(ApiError::Conflict("this is the last admin: make another admin first".into()));
    }
    let keys = state.store.list_api_keys(id).await?;
    let event = op.event(Outcome::Success);
    state.store.delete_user(id, AuditBatch::new(&state.chain_key, &[event])).await?;
    for k in keys {
        state.tokens.kill_api_key(k.id);
    }
    state.tokens.cut(id, i64::MAX);
    state.access.forget(id);
    Ok(())
}
