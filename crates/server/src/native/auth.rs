use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::dto::{ApiKeyCreated, ApiKeyList, ApiKeyOut, ApiKeyTokenRequest, CreateApiKeyRequest, MeOut, TokenResponse};
use super::extract::{Authenticated, ClientIp};
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::op::Asker;
use crate::service::audit::refused;
use crate::service::{keys, whoami};
use crate::state::AppState;
use clawvault_core::action::Action;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_key_token))
        .routes(routes!(agent_token))
        .routes(routes!(rotate_signing_key))
        .routes(routes!(revoke_token))
        .routes(routes!(me))
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(delete_api_key))
}

/// Exchange a user API key (`1ck_…`) for an access token.
#[utoipa::path(post, path = "/v1/auth/api-key-token", tag = "auth", request_body = ApiKeyTokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::error::ProblemDoc)))]
async fn api_key_token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<ApiKeyTokenRequest>, ApiError>,
) -> ApiResult<Json<TokenResponse>> {
    let body = match body {
        Ok(ApiJson(body)) => body,
        Err(e) => return Err(refused(&state, Asker::Anonymous(ip), Action::KeyExchange, "", e).await),
    };
    let issued = keys::exchange(&state, ip, &body.api_key).await?;
    Ok(Json(TokenResponse { access_token: issued.token, token_type: "Bearer", expires_in: issued.expires_in }))
}

/// Revoke the bearer token of this request, at once.
#[utoipa::path(delete, path = "/v1/auth/token", tag = "auth", responses((status = 204), (status = 400, body = crate::error::ProblemDoc, description = "The request was made with an API key, not a token"), (status = 401, body = crate::error::ProblemDoc)))]
async fn revoke_token(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<StatusCode> {
    keys::revoke_token(&state, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the bearer credential belongs to: a user or an agent, and when the credential expires.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", responses((status = 200, body = MeOut), (status = 401, body = crate::error::ProblemDoc)))]
async fn me(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<Json<MeOut>> {
    let who = whoami::whoami(&state, &caller).await?;
    let vault_ids = match &who.principal.actor {
        Actor::Agent { vault_ids, .. } => Some(vault_ids.clone()),
        Actor::User { .. } => None,
    };
    Ok(Json(MeOut {
        id: who.principal.id(),
        kind: who.principal.kind().as_str(),
        display_name: who.name.clone(),
        name: who.name,
        role: who.role.map(|r| r.as_str()),
        created_by: who.created_by,
        vault_ids,
        credential: who.principal.credential.as_str(),
        credential_expires_at: who.credential_expires_at,
        scopes: who.principal.scopes.clone(),
    }))
}

/// Create an API key for yourself; the key is in the answer, once.
#[utoipa::path(post, path = "/v1/auth/api-keys", tag = "auth", request_body = CreateApiKeyRequest,
    responses((status = 201, body = ApiKeyCreated), (status = 400, body = crate::error::ProblemDoc)))]
async fn create_api_key(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    body: Result<ApiJson<CreateApiKeyRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<ApiKeyCreated>)> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::ApiKeyCreate, "", e).await),
    };
    let (record, key) = keys::create(&state, &caller, &b.name, b.scopes.unwrap_or_default(), b.expires_at).await?;
    Ok((StatusCode::CREATED, Json(ApiKeyCreated { key: record.into(), api_key: key.expose().to_owned() })))
}

/// List your API keys (prefixes only).
#[utoipa::path(get, path = "/v1/auth/api-keys", tag = "auth", responses((status = 200, body = ApiKeyList)))]
async fn list_api_keys(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<ApiKeyList>> {
    let keys = keys::list(&state, &caller).await?;
    Ok(Json(ApiKeyList { keys: keys.into_iter().map(ApiKeyOut::from).collect() }))
}

/// Delete one of your API keys; tokens made from it stop working at once.
#[utoipa::path(delete, path = "/v1/auth/api-keys/{key_id}", tag = "auth", params(("key_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::error::ProblemDoc)))]
async fn delete_api_key(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(key_id): Path<String>,
) -> ApiResult<StatusCode> {
    keys::delete(&state, &caller, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/auth/agent-token`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct AgentTokenRequest {
    /// An agent key (`ocv_…`).
    api_key: String,
    /// Optional: found from the key when absent.
    agent_id: Option<Uuid>,
}

/// An agent's token (1Claw's shape).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AgentTokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    agent_id: Uuid,
    vault_ids: Vec<Uuid>,
}

/// Exchange an agent key (`ocv_…`) for an access token.
#[utoipa::path(post, path = "/v1/auth/agent-token", tag = "auth", request_body = AgentTokenRequest,
    responses((status = 200, body = AgentTokenResponse), (status = 401, body = crate::error::ProblemDoc), (status = 429, body = crate::error::ProblemDoc)))]
async fn agent_token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<AgentTokenRequest>, ApiError>,
) -> ApiResult<Json<AgentTokenResponse>> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Anonymous(ip), Action::AgentKeyExchange, "", e).await),
    };
    let (agent, token, ttl) = crate::service::agents::exchange(&state, ip, &b.api_key, b.agent_id).await?;
    Ok(Json(AgentTokenResponse {
        access_token: token,
        token_type: "Bearer",
        expires_in: ttl,
        agent_id: agent.id,
        vault_ids: agent.vault_ids,
    }))
}

/// The new signing key.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RotatedSigningKey {
    /// Key id of the key that signs from now on (older keys keep verifying).
    kid: String,
}

/// Rotate the token signing key (admins): new tokens use the new key, tokens signed by older
/// keys stay valid until they expire.
#[utoipa::path(post, path = "/v1/auth/signing-keys/rotate", tag = "auth",
    responses((status = 200, body = RotatedSigningKey), (status = 403, body = crate::error::ProblemDoc)))]
async fn rotate_signing_key(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<Json<RotatedSigningKey>> {
    let kid = keys::rotate_signing_key(&state, &caller).await?;
    Ok(Json(RotatedSigningKey { kid }))
}
