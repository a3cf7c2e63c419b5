use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use clawvault_store::UserRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::op::Asker;
use crate::service::audit::refused;
use crate::service::users;
use crate::state::AppState;
use clawvault_core::action::Action;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_user, list_users)).routes(routes!(delete_user))
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    id: Uuid,
    name: String,
    /// `admin` or `member`.
    role: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
}

impl From<&UserRecord> for UserOut {
    fn from(u: &UserRecord) -> Self {
        Self { id: u.id, name: u.name.clone(), role: u.role.as_str().to_owned(), created_at: u.created_at }
    }
}

/// `POST /v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    name: String,
    /// `admin` or `member` (default).
    role: Option<String>,
}

/// A new user and their first key, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreated {
    user: UserOut,
    /// Their `1ck_` key: hand it over now, it is never shown again.
    api_key: String,
}

/// `{users: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    users: Vec<UserOut>,
}

/// Create a user (admins only).
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = UserCreated), (status = 403, body = crate::error::ProblemDoc), (status = 409, body = crate::error::ProblemDoc)))]
async fn create_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    body: Result<ApiJson<CreateUserRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<UserCreated>)> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::UserCreate, "", e).await),
    };
    let (user, key) = users::create(&state, &caller, &b.name, b.role.as_deref().unwrap_or("member")).await?;
    Ok((StatusCode::CREATED, Json(UserCreated { user: UserOut::from(&user), api_key: key.expose().to_owned() })))
}

/// List users (admins only).
#[utoipa::path(get, path = "/v1/users", tag = "users", responses((status = 200, body = UserList), (status = 403, body = crate::error::ProblemDoc)))]
async fn list_users(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<Json<UserList>> {
    let list = users::list(&state, &caller).await?;
    Ok(Json(UserList { users: list.iter().map(UserOut::from).collect() }))
}

/// An agent deactivated along with the user who created it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeactivatedAgent {
    id: Uuid,
    name: String,
}

/// What deleting a user did.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDeleted {
    /// The agents they created, now deactivated (an admin may reactivate them).
    deactivated_agents: Vec<DeactivatedAgent>,
}

/// Delete a user with their keys and policies, deactivating the agents they created
/// (admins only; never the last admin).
#[utoipa::path(delete, path = "/v1/users/{user_id}", tag = "users", params(("user_id" = Uuid, Path)),
    responses((status = 200, body = UserDeleted), (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc), (status = 409, body = crate::error::ProblemDoc)))]
async fn delete_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<UserDeleted>> {
    let deactivated = users::delete(&state, &caller, &id).await?;
    Ok(Json(UserDeleted {
        deactivated_agents: deactivated.into_iter().map(|a| DeactivatedAgent { id: a.id, name: a.name }).collect(),
    }))
}
