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
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::op::{Op, Recorded};
use crate::service::agents::{self, AgentFields};
use crate::state::AppState;

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

fn agent_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::BadRequest("agent id must be a UUID".into()))
}

/// Create an agent with its own key (people only).
#[utoipa::path(post, path = "/v1/agents", tag = "agents", request_body = AgentRequest,
    responses((status = 201, body = AgentCreated), (status = 400, body = crate::error::ProblemDoc), (status = 403, body = crate::error::ProblemDoc)))]
async fn create_agent(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<ApiJson<AgentRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<AgentCreated>)> {
    let mut op = Op::new(&state, &caller, "agent.create", "agent");
    let result = match body {
        Ok(ApiJson(b)) => {
            let method = b.auth_method.clone().unwrap_or_else(|| "api_key".into());
            agents::create(&state, &mut op, &caller, &method, b.fields()).await
        }
        Err(e) => Err(e),
    };
    let (agent, key) = op.finish(result, Recorded::InTransaction).await?;
    Ok((StatusCode::CREATED, Json(AgentCreated { agent: AgentOut::from(&agent), api_key: key.expose().to_owned() })))
}

/// List the agents you manage (admins: all).
#[utoipa::path(get, path = "/v1/agents", tag = "agents", responses((status = 200, body = AgentList)))]
async fn list_agents(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<AgentList>> {
    let list = agents::list(&state, &caller).await?;
    Ok(Json(AgentList { agents: list.iter().map(AgentOut::from).collect() }))
}

/// The calling agent itself (agent tokens only).
#[utoipa::path(get, path = "/v1/agents/me", tag = "agents", responses((status = 200, body = AgentOut), (status = 403, body = crate::error::ProblemDoc)))]
async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<AgentOut>> {
    if !caller.principal.is_agent() {
        return Err(ApiError::Forbidden("only agents have /v1/agents/me: people use GET /v1/users".into()));
    }
    let agent = state
        .store
        .agent(caller.principal.id())
        .await?
        .ok_or_else(|| ApiError::Unauthorized("this agent no longer exists".into()))?;
    Ok(Json(AgentOut::from(&agent)))
}

/// One agent you manage.
#[utoipa::path(get, path = "/v1/agents/{agent_id}", tag = "agents", params(("agent_id" = Uuid, Path)),
    responses((status = 200, body = AgentOut), (status = 404, body = crate::error::ProblemDoc)))]
async fn get_agent(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<AgentOut>> {
    let mut op = Op::new(&state, &caller, "agent.read", "agent");
    let result = match agent_id(&id) {
        Ok(id) => agents::get(&state, &mut op, &caller, id).await,
        Err(e) => Err(e),
    };
    let agent = op.finish(result, Recorded::No).await?;
    Ok(Json(AgentOut::from(&agent)))
}

/// Change an agent: deactivating it, or changing its vaults, scopes or expiry, cuts off its
/// tokens at once.
#[utoipa::path(patch, path = "/v1/agents/{agent_id}", tag = "agents", request_body = AgentRequest, params(("agent_id" = Uuid, Path)),
    responses((status = 200, body = AgentOut), (status = 400, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc)))]
async fn update_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<ApiJson<AgentRequest>, ApiError>,
) -> ApiResult<Json<AgentOut>> {
    let mut op = Op::new(&state, &caller, "agent.update", "agent");
    let result = match (agent_id(&id), body) {
        (Ok(id), Ok(ApiJson(b))) => agents::update(&state, &mut op, &caller, id, b.fields()).await,
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let agent = op.finish(result, Recorded::InTransaction).await?;
    Ok(Json(AgentOut::from(&agent)))
}

/// Delete an agent and its policies; its tokens stop working at once.
#[utoipa::path(delete, path = "/v1/agents/{agent_id}", tag = "agents", params(("agent_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::error::ProblemDoc)))]
async fn delete_agent(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let mut op = Op::new(&state, &caller, "agent.delete", "agent");
    let result = match agent_id(&id) {
        Ok(id) => agents::delete(&state, &mut op, &caller, id).await,
        Err(e) => Err(e),
    };
    op.finish(result, Recorded::InTransaction).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace an agent's key: the old key and all its tokens stop working at once.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/rotate-key", tag = "agents", params(("agent_id" = Uuid, Path)),
    responses((status = 200, body = RotatedKey), (status = 404, body = crate::error::ProblemDoc)))]
async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RotatedKey>> {
    let mut op = Op::new(&state, &caller, "agent.rotate_key", "agent");
    let result = match agent_id(&id) {
        Ok(id) => agents::rotate_key(&state, &mut op, &caller, id).await,
        Err(e) => Err(e),
    };
    let key = op.finish(result, Recorded::InTransaction).await?;
    Ok(Json(RotatedKey { api_key: key.expose().to_owned() }))
}
