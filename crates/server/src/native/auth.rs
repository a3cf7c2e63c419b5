use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::dto::{ApiKeyCreated, ApiKeyList, ApiKeyOut, ApiKeyTokenRequest, CreateApiKeyRequest, TokenResponse};
use crate::auth::{Caller, ClientIp};
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::op::{Op, Recorded};
use crate::service::keys;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_key_token))
        .routes(routes!(agent_token))
        .routes(routes!(rotate_signing_key))
        .routes(routes!(revoke_token))
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
    let mut op = Op::anonymous(&state, ip, "auth.api_key_token", "api_key");
    let result = match body {
        Ok(ApiJson(body)) => keys::exchange(&state, &mut op, &body.api_key).await,
        Err(e) => Err(e),
    };
    let issued = op.finish(result, Recorded::No).await?;
    Ok(Json(TokenResponse { access_token: issued.token, token_type: "Bearer", expires_in: issued.expires_in }))
}

/// Revoke the bearer token of this request, at once.
#[utoipa::path(delete, path = "/v1/auth/token", tag = "auth", responses((status = 204), (status = 401, body = crate::error::ProblemDoc)))]
async fn revoke_token(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    let mut op = Op::new(&state, &caller, "auth.token_revoke", "token");
    let result = keys::revoke_token(&state, &mut op, &caller).await;
    op.finish(result, Recorded::InTransaction).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create an API key for yourself; the key is in the answer, once.
#[utoipa::path(post, path = "/v1/auth/api-keys", tag = "auth", request_body = CreateApiKeyRequest,
    responses((status = 201, body = ApiKeyCreated), (status = 400, body = crate::error::ProblemDoc)))]
async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<ApiJson<CreateApiKeyRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<ApiKeyCreated>)> {
    let mut op = Op::new(&state, &caller, "api_key.create", "api_key");
    let result = match body {
        Ok(ApiJson(b)) => {
            keys::create(&state, &mut op, &caller, &b.name, b.scopes.unwrap_or_default(), b.expires_at).await
        }
        Err(e) => Err(e),
    };
    let (record, key) = op.finish(result, Recorded::InTransaction).await?;
    Ok((StatusCode::CREATED, Json(ApiKeyCreated { key: record.into(), api_key: key.expose().to_owned() })))
}

/// List your API keys (prefixes only).
#[utoipa::path(get, path = "/v1/auth/api-keys", tag = "auth", responses((status = 200, body = ApiKeyList)))]
async fn list_api_keys(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ApiKeyList>> {
    let keys = keys::list(&state, &caller).await?;
    Ok(Json(ApiKeyList { keys: keys.into_iter().map(ApiKeyOut::from).collect() }))
}

/// Delete one of your API keys; tokens made from it stop working at once.
#[utoipa::path(delete, path = "/v1/auth/api-keys/{key_id}", tag = "auth", params(("key_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::error::ProblemDoc)))]
async fn delete_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut op = Op::new(&state, &caller, "api_key.delete", "api_key");
    let result = match Uuid::parse_str(&key_id) {
        Ok(id) => keys::delete(&state, &mut op, &caller, id).await,
        Err(_) => Err(ApiError::BadRequest("key_id must be a UUID".into())),
    };
    op.finish(result, Recorded::InTransaction).await?;
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
    let mut op = Op::anonymous(&state, ip, "auth.agent_token", "agent");
    let result = match body {
        Ok(ApiJson(b)) => crate::service::agents::exchange(&state, &mut op, &b.api_key, b.agent_id).await,
        Err(e) => Err(e),
    };
    let (agent, token, ttl) = op.finish(result, Recorded::No).await?;
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
async fn rotate_signing_key(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<RotatedSigningKey>> {
    let op = Op::new(&state, &caller, "auth.signing_key_rotate", "signing_key");
    let result = keys::rotate_signing_key(&state, &caller).await;
    let kid = op.finish(result, Recorded::No).await?;
    Ok(Json(RotatedSigningKey { kid }))
}
