use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use clawvault_store::PolicyRecord;
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
use crate::service::policies::{self, NewPolicy, Terms, TermsChange};
use crate::state::AppState;
use clawvault_core::action::Action;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_policy, list_policies)).routes(routes!(update_policy, delete_policy))
}

/// A policy (1Claw's shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyOut {
    id: Uuid,
    vault_id: Uuid,
    /// `user` or `agent`.
    principal_type: String,
    principal_id: Uuid,
    secret_path_pattern: String,
    permissions: Vec<String>,
    #[schema(value_type = Object)]
    conditions: serde_json::Value,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<OffsetDateTime>,
    created_by: Uuid,
    created_by_type: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    /// `allow` or `deny`.
    effect: String,
    priority: i64,
    policy_schema_version: i64,
}

impl From<&PolicyRecord> for PolicyOut {
    fn from(p: &PolicyRecord) -> Self {
        Self {
            id: p.id,
            vault_id: p.vault_id,
            principal_type: p.principal_kind.as_str().to_owned(),
            principal_id: p.principal_id,
            secret_path_pattern: p.secret_path_pattern.clone(),
            permissions: p.permissions.iter().map(|p| p.as_str().to_owned()).collect(),
            conditions: p.conditions.to_json(),
            expires_at: p.expires_at,
            created_by: p.created_by,
            created_by_type: p.created_by_type.as_str().to_owned(),
            created_at: p.created_at,
            effect: p.effect.as_str().to_owned(),
            priority: p.priority,
            policy_schema_version: 2,
        }
    }
}

/// `POST /v1/vaults/{vault}/policies`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreatePolicyRequest {
    /// `user` or `agent`.
    principal_type: String,
    principal_id: Uuid,
    /// Glob over path segments: `*` one segment, `**` any number (default `**`).
    secret_path_pattern: Option<String>,
    /// `read`, `use`, `write`, `delete`, `rotate`, `list`, `share` (default `["read"]`).
    permissions: Option<Vec<String>>,
    /// `{"ip_allowlist": [...], "time_window": {...}}`; unknown keys are refused.
    #[serde(default)]
    #[schema(value_type = Object)]
    conditions: serde_json::Value,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<OffsetDateTime>,
    /// `allow` (default) or `deny`.
    effect: Option<String>,
    priority: Option<i64>,
}

/// `PUT /v1/vaults/{vault}/policies/{id}` (pattern and principal are fixed).
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdatePolicyRequest {
    permissions: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Object)]
    conditions: Option<serde_json::Value>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<OffsetDateTime>,
    effect: Option<String>,
    priority: Option<i64>,
}

/// `{policies: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyList {
    policies: Vec<PolicyOut>,
}

/// Grant (or deny) a user or agent permissions on paths of a vault (owners and admins).
#[utoipa::path(post, path = "/v1/vaults/{vault_id}/policies", tag = "policies", request_body = CreatePolicyRequest,
    params(("vault_id" = String, Path, description = "vault id or name")),
    responses((status = 201, body = PolicyOut), (status = 400, body = crate::error::ProblemDoc), (status = 403, body = crate::error::ProblemDoc)))]
async fn create_policy(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(vault): Path<String>,
    body: Result<ApiJson<CreatePolicyRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<PolicyOut>)> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::PolicyCreate, &vault, e).await),
    };
    let new = NewPolicy {
        kind: b.principal_type,
        principal_id: b.principal_id,
        pattern: b.secret_path_pattern.unwrap_or_else(|| "**".into()),
        terms: Terms {
            permissions: b.permissions.unwrap_or_else(|| vec!["read".into()]),
            effect: b.effect.unwrap_or_else(|| "allow".into()),
            conditions: b.conditions,
            expires_at: b.expires_at,
            priority: b.priority.unwrap_or(0),
        },
    };
    let p = policies::create(&state, &caller, &vault, new).await?;
    Ok((StatusCode::CREATED, Json(PolicyOut::from(&p))))
}

/// A vault's policies (owners and admins).
#[utoipa::path(get, path = "/v1/vaults/{vault_id}/policies", tag = "policies", params(("vault_id" = String, Path, description = "vault id or name")),
    responses((status = 200, body = PolicyList), (status = 403, body = crate::error::ProblemDoc)))]
async fn list_policies(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(vault): Path<String>,
) -> ApiResult<Json<PolicyList>> {
    let list = policies::list(&state, &caller, &vault).await?;
    Ok(Json(PolicyList { policies: list.iter().map(PolicyOut::from).collect() }))
}

/// Change a policy's permissions, effect, conditions or expiry; it applies to the next request.
#[utoipa::path(put, path = "/v1/vaults/{vault_id}/policies/{policy_id}", tag = "policies", request_body = UpdatePolicyRequest,
    params(("vault_id" = String, Path, description = "vault id or name"), ("policy_id" = Uuid, Path)),
    responses((status = 200, body = PolicyOut), (status = 400, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc)))]
async fn update_policy(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((vault, id)): Path<(String, String)>,
    body: Result<ApiJson<UpdatePolicyRequest>, ApiError>,
) -> ApiResult<Json<PolicyOut>> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::PolicyUpdate, &id, e).await),
    };
    let change = TermsChange {
        permissions: b.permissions,
        effect: b.effect,
        conditions: b.conditions,
        expires_at: b.expires_at,
        priority: b.priority,
    };
    let p = policies::update(&state, &caller, &vault, &id, change).await?;
    Ok(Json(PolicyOut::from(&p)))
}

/// Delete a policy; it stops applying on the next request.
#[utoipa::path(delete, path = "/v1/vaults/{vault_id}/policies/{policy_id}", tag = "policies",
    params(("vault_id" = String, Path, description = "vault id or name"), ("policy_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::error::ProblemDoc)))]
async fn delete_policy(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((vault, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    policies::delete(&state, &caller, &vault, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
