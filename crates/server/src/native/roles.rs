//! Login roles of the Vault-compatible API (`/v1/auth/roles`): who may log in by Kubernetes
//! service account, JWT or AppRole, and as which agent. Admins only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use clawvault_store::AuthRoleRecord;
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
use crate::service::login::{self, NewRole};
use crate::state::AppState;
use clawvault_core::action::Action;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_role, list_roles)).routes(routes!(delete_role))
}

/// A login role.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleOut {
    /// Also an AppRole's `role_id`.
    id: Uuid,
    /// `kubernetes`, `jwt` or `approle`.
    method: String,
    name: String,
    /// The agent a login becomes.
    agent_id: Uuid,
    #[schema(value_type = Object)]
    bindings: serde_json::Value,
    token_ttl_seconds: i64,
    created_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
}

impl From<&AuthRoleRecord> for RoleOut {
    fn from(r: &AuthRoleRecord) -> Self {
        Self {
            id: r.id,
            method: r.method.clone(),
            name: r.name.clone(),
            agent_id: r.agent_id,
            bindings: serde_json::from_str(&r.bindings).unwrap_or_default(),
            token_ttl_seconds: r.token_ttl_seconds,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// `POST /v1/auth/roles`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateRoleRequest {
    /// `kubernetes`, `jwt` or `approle`.
    method: String,
    /// The `role` a login names (unique per method).
    name: String,
    /// The id of the agent a login becomes.
    agent_id: String,
    /// `kubernetes`: `bound_service_account_names`, `bound_service_account_namespaces` (lists,
    /// `["*"]` for any), `audience?`; `jwt`: `bound_audiences`, `bound_subject?`,
    /// `bound_claims?`; `approle`: nothing.
    #[serde(default)]
    #[schema(value_type = Object)]
    bindings: serde_json::Value,
    /// Lifetime of a login's token (60 to 3600, default 600).
    token_ttl_seconds: Option<i64>,
}

/// A created role; an AppRole's `secret_id` is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleCreated {
    role: RoleOut,
    /// The AppRole's secret (absent for other methods).
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_id: Option<String>,
}

/// `{roles: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    roles: Vec<RoleOut>,
}

/// Create a login role of the Vault-compatible API (admins).
#[utoipa::path(post, path = "/v1/auth/roles", tag = "auth", request_body = CreateRoleRequest,
    responses((status = 201, body = RoleCreated), (status = 400, body = crate::error::ProblemDoc), (status = 403, body = crate::error::ProblemDoc), (status = 409, body = crate::error::ProblemDoc)))]
async fn create_role(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    body: Result<ApiJson<CreateRoleRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<RoleCreated>)> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::AuthRoleCreate, "", e).await),
    };
    let new = NewRole {
        method: b.method,
        name: b.name,
        agent_id: b.agent_id,
        bindings: b.bindings,
        token_ttl_seconds: b.token_ttl_seconds,
    };
    let created = login::create_role(&state, &caller, new).await?;
    Ok((StatusCode::CREATED, Json(RoleCreated { role: RoleOut::from(&created.role), secret_id: created.secret_id })))
}

/// Every login role (admins).
#[utoipa::path(get, path = "/v1/auth/roles", tag = "auth",
    responses((status = 200, body = RoleList), (status = 403, body = crate::error::ProblemDoc)))]
async fn list_roles(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<Json<RoleList>> {
    let roles = login::roles(&state, &caller).await?;
    Ok(Json(RoleList { roles: roles.iter().map(RoleOut::from).collect() }))
}

/// Delete a login role (admins); tokens it issued live out their short lifetime.
#[utoipa::path(delete, path = "/v1/auth/roles/{role_id}", tag = "auth", params(("role_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc)))]
async fn delete_role(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    login::delete_role(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
