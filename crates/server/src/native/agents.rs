use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use clawvault_store::AgentRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::dto::ORG_ID;
use super::extract::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::op::Asker;
use crate::service::agents::{self, AgentFields};
use crate::service::audit::refused;
use crate::state::AppState;
use clawvault_core::action::Action;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_agent, list_agents))
        .routes(routes!(me))
        .routes(routes!(get_agent, update_agent, delete_agent))
        .routes(routes!(rotate_key))
}

/// An agent (1Claw's `AgentResponse`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentOut {
    id: Uuid,
    name: String,
    description: String,
    org_id: Uuid,
    auth_method: String,
    is_active: bool,
    intents_api_enabled: bool,
    shroud_enabled: bool,
    scopes: Vec<String>,
    vault_ids: Vec<Uuid>,
    token_ttl_seconds: Option<i64>,
    created_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    last_active_at: Option<OffsetDateTime>,
    api_key_prefix: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    api_key_expires_at: Option<OffsetDateTime>,
}

impl From<&AgentRecord> for AgentOut {
    fn from(a: &AgentRecord) -> Self {
        Self {
            id: a.id,
            name: a.name.clone(),
            description: a.description.clone(),
            org_id: ORG_ID,
            auth_method: a.auth_method.clone(),
            is_active: a.is_active,
            intents_api_enabled: a.intents_api_enabled,
            shroud_enabled: a.shroud_enabled,
            scopes: a.scopes.clone(),
            vault_ids: a.vault_ids.clone(),
            token_ttl_seconds: a.token_ttl_seconds,
            created_by: a.created_by,
            created_at: a.created_at,
            expires_at: a.expires_at,
            last_active_at: a.last_active_at,
            api_key_prefix: a.key_prefix.clone(),
            api_key_expires_at: a.key_expires_at,
        }
    }
}

/// `POST /v1/agents` and `PATCH /v1/agents/{id}`: the fields 1Claw's clients send (unknown
/// ones are accepted and ignored).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AgentRequest {
    name: Option<String>,
    description: Option<String>,
    auth_method: Option<String>,
    token_ttl_seconds: Option<i64>,
    vault_ids: Option<Vec<Uuid>>,
    scopes: Option<Vec<String>>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<OffsetDateTime>,
    is_active: Option<bool>,
    intents_api_enabled: Option<bool>,
    shroud_enabled: Option<bool>,
}

impl AgentRequest {
    fn fields(self) -> AgentFields {
        AgentFields {
            name: self.name,
            description: self.description,
            token_ttl_seconds: self.token_ttl_seconds.map(Some),
            vault_ids: self.vault_ids,
            scopes: self.scopes,
            expires_at: self.expires_at.map(Some),
            is_active: self.is_active,
            intents_api_enabled: self.intents_api_enabled,
            shroud_enabled: self.shroud_enabled,
        }
    }
}

/// A new agent and its key, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentCreated {
    agent: AgentOut,
    /// The `ocv_` key: store it now, it is never shown again.
    api_key: String,
}

/// `{agents: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentList {
    agents: Vec<AgentOut>,
}

/// A new key.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedKey {
    /// The new `ocv_` key (the old one no longer works).
    api_key: String,
}

/// Create an agent with its own key (users only).
#[utoipa::path(post, path = "/v1/agents", tag = "agents", request_body = AgentRequest,
    responses((status = 201, body = AgentCreated), (status = 400, body = crate::error::ProblemDoc), (status = 403, body = crate::error::ProblemDoc)))]
async fn create_agent(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    body: Result<ApiJson<AgentRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<AgentCreated>)> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::AgentCreate, "", e).await),
    };
    let method = b.auth_method.clone().unwrap_or_else(|| "api_key".into());
    let (agent, key) = agents::create(&state, &caller, &method, b.fields()).await?;
    Ok((StatusCode::CREATED, Json(AgentCreated { agent: AgentOut::from(&agent), api_key: key.expose().to_owned() })))
}

/// List the agents you manage (admins: all).
#[utoipa::path(get, path = "/v1/agents", tag = "agents", responses((status = 200, body = AgentList)))]
async fn list_agents(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<AgentList>> {
    let list = agents::list(&state, &caller).await?;
    Ok(Json(AgentList { agents: list.iter().map(AgentOut::from).collect() }))
}

/// The calling agent itself (agent tokens only).
#[utoipa::path(get, path = "/v1/agents/me", tag = "agents", responses((status = 200, body = AgentOut), (status = 403, body = crate::error::ProblemDoc)))]
async fn me(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<Json<AgentOut>> {
    let agent = agents::me(&state, &caller).await?;
    Ok(Json(AgentOut::from(&agent)))
}

/// One agent you manage.
#[utoipa::path(get, path = "/v1/agents/{agent_id}", tag = "agents", params(("agent_id" = Uuid, Path)),
    responses((status = 200, body = AgentOut), (status = 404, body = crate::error::ProblemDoc)))]
async fn get_agent(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentOut>> {
    let agent = agents::get(&state, &caller, &id).await?;
    Ok(Json(AgentOut::from(&agent)))
}

/// Change an agent: deactivating it, or changing its vaults, scopes or expiry, cuts off its
/// tokens at once.
#[utoipa::path(patch, path = "/v1/agents/{agent_id}", tag = "agents", request_body = AgentRequest, params(("agent_id" = Uuid, Path)),
    responses((status = 200, body = AgentOut), (status = 400, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc)))]
async fn update_agent(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    body: Result<ApiJson<AgentRequest>, ApiError>,
) -> ApiResult<Json<AgentOut>> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::AgentUpdate, &id, e).await),
    };
    let agent = agents::update(&state, &caller, &id, b.fields()).await?;
    Ok(Json(AgentOut::from(&agent)))
}

/// Delete an agent and its policies; its tokens stop working at once.
#[utoipa::path(delete, path = "/v1/agents/{agent_id}", tag = "agents", params(("agent_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::error::ProblemDoc)))]
async fn delete_agent(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    agents::delete(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace an agent's key: the old key and all its tokens stop working at once.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/rotate-key", tag = "agents", params(("agent_id" = Uuid, Path)),
    responses((status = 200, body = RotatedKey), (status = 404, body = crate::error::ProblemDoc)))]
async fn rotate_key(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<RotatedKey>> {
    let key = agents::rotate_key(&state, &caller, &id).await?;
    Ok(Json(RotatedKey { api_key: key.expose().to_owned() }))
}
