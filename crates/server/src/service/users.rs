//! Users: admins create further users (admin or member), each with their own `1ck_` key.

use clawvault_core::action::Action;
use clawvault_core::apikey::ApiKey;
use clawvault_core::scope::Scope;
use clawvault_core::time_util::now;
use clawvault_store::{AuditBatch, Change, Role, StoreError, UserDeletion, UserRecord};
use uuid::Uuid;

use super::{access, keys};
use crate::auth::Caller;
use crate::changes;
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use crate::state::AppState;

/// Creates a user and their first API key (returned once). Admins only.
///
/// # Errors
/// 400 bad name or role, 403, 409 taken name.
pub async fn create(state: &AppState, caller: &Caller, name: &str, role: &str) -> ApiResult<(UserRecord, ApiKey)> {
    let mut op = Op::new(state, caller, Action::UserCreate);
    let result = create_in(state, &mut op, caller, name, role).await;
    op.finish(result).await
}

async fn create_in(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    name: &str,
    role: &str,
) -> ApiResult<(UserRecord, ApiKey)> {
    access::require_scope(caller, Scope::UsersWrite)?;
    access::require_admin(caller, "create users")?;
    let name = name.trim();
    super::free_text("name", name, super::MAX_NAME_LEN, true)?;
    let role = Role::parse(role)
        .ok_or_else(|| ApiError::BadRequest(format!("role {role:?} is unknown: use admin or member")))?;
    let user = UserRecord { id: Uuid::new_v4(), name: name.to_owned(), role, created_at: now() };
    op.resource(user.id.to_string());
    op.detail("name", name);
    op.detail("role", role.as_str());
    let event = op.success();
    state.store.create_user(&user, AuditBatch::new(&state.chain_key, &[event])).await.map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::Conflict(format!("a user named {name:?} exists")),
        other => other.into(),
    })?;
    let key = keys::create_for(state, op, caller, user.id, "first key").await?;
    Ok((user, key))
}

/// Everyone. Admins only.
///
/// # Errors
/// 403.
pub async fn list(state: &AppState, caller: &Caller) -> ApiResult<Vec<UserRecord>> {
    let op = Op::new(state, caller, Action::UserList);
    let result = async {
        access::require_scope(caller, Scope::UsersRead)?;
        access::require_admin(caller, "list users")?;
        Ok(state.store.list_users().await?)
    }
    .await;
    op.finish(result).await
}

/// An agent deactivated because the user who created it was deleted.
#[derive(Debug, Clone)]
pub struct Deactivated {
    /// The agent.
    pub id: Uuid,
    /// Its name.
    pub name: String,
}

/// Deletes a user with their keys and policies, and deactivates every agent they created;
/// their tokens and their agents' tokens die on the next request, on every server. Admins
/// only, and never the last admin (decided in the deletion's own transaction).
///
/// # Errors
/// 400 (not a user's id), 403, 404, 409 for the last admin.
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Vec<Deactivated>> {
    let mut op = Op::new(state, caller, Action::UserDelete);
    op.resource(id.to_owned());
    let result = async {
        let id = super::id(id, "user id")?;
        delete_in(state, &mut op, caller, id).await
    }
    .await;
    op.finish(result).await
}

async fn delete_in(state: &AppState, op: &mut Op<'_>, caller: &Caller, id: Uuid) -> ApiResult<Vec<Deactivated>> {
    access::require_scope(caller, Scope::UsersWrite)?;
    access::require_admin(caller, "delete users")?;
    let keys = state.store.list_api_keys(id).await?;
    let theirs: Vec<_> =
        state.store.list_agents().await?.into_iter().filter(|a| a.created_by == id && a.is_active).collect();
    op.detail("deactivated_agents", theirs.iter().map(|a| a.id.to_string()).collect::<Vec<_>>());
    let mut events = vec![op.success()];
    for a in &theirs {
        let mut e = op.derived(Action::AgentDeactivate, a.id.to_string());
        e.details = serde_json::json!({ "reason": "the user who created it was deleted" }).to_string();
        events.push(e);
    }
    // Their agents' tokens are dropped with theirs: a user's change reaches what they minted.
    let mut changed = vec![Change::User(id), Change::Policies(id)];
    changed.extend(keys.iter().map(|k| Change::ApiKey(k.id)));
    let batch = AuditBatch::new(&state.chain_key, &events).changing(&changed);
    let deactivated = match state.store.delete_user(id, now(), batch).await? {
        UserDeletion::Deleted { deactivated } => deactivated,
        UserDeletion::NotFound => return Err(ApiError::NotFound(format!("no user {id}"))),
        UserDeletion::LastAdmin => {
            return Err(ApiError::Conflict("this is the last admin: make another admin first".into()));
        }
    };
    changes::committed(state, &changed).await;
    Ok(deactivated
        .into_iter()
        .map(|a| Deactivated {
            id: a,
            name: theirs.iter().find(|t| t.id == a).map(|t| t.name.clone()).unwrap_or_default(),
        })
        .collect())
}
