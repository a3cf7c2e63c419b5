use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::agents::AgentOut;
use super::extract::{Authenticated, ClientIp};
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::op::Asker;
use crate::service::agents::AgentFields;
use crate::service::audit::refused;
use crate::service::enroll;
use crate::state::AppState;
use clawvault_core::action::Action;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request, pending))
        .routes(routes!(status))
        .routes(routes!(approve))
        .routes(routes!(deny))
}

/// `POST /v1/agents/enroll` (no credentials).
#[derive(Debug, Deserialize, ToSchema)]
pub struct EnrollRequest {
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// Recorded only: this server sends no email.
    #[serde(default)]
    human_email: Option<String>,
    /// `ssh-ed25519 AAAA…` or a base64 key: its fingerprint is shown to the approver.
    #[serde(default)]
    public_key: Option<String>,
}

/// The answer to every enrollment request.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollResponse {
    /// The nil UUID until a user approves.
    agent_id: Uuid,
    message: String,
    approval_url: Option<String>,
    pairing_id: Uuid,
    fingerprint: String,
    /// Poll with it: `GET /v1/agents/enroll/{pairing_id}/status?poll=<token>`.
    poll_token: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PollQuery {
    /// The poll token from the enrollment answer (or the `X-Poll-Token` header, or
    /// `Authorization: Bearer <poll token>`).
    poll: Option<String>,
    /// For an enrollment made with a public key: the base64 Ed25519 signature of
    /// `clawvault-enrollment:v1:<pairing id>` (or the `X-Enrollment-Signature` header).
    signature: Option<String>,
}

/// A header's value as text.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// Where a request stands; `api_key` only in the first answer after approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollStatus {
    /// `pending`, `approved`, `denied` or `expired`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
}

/// A pending request, as an admin sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingOut {
    pairing_id: Uuid,
    name: String,
    description: String,
    fingerprint: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: OffsetDateTime,
}

/// `{enrollments: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingList {
    enrollments: Vec<PendingOut>,
}

/// `POST /v1/agents/enroll/{pairing_id}/approve`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ApproveRequest {
    vault_ids: Option<Vec<Uuid>>,
    token_ttl_seconds: Option<i64>,
}

/// The approved agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Approved {
    agent: AgentOut,
}

/// Ask to be enrolled as an agent; a user approves, then poll for the key.
#[utoipa::path(post, path = "/v1/agents/enroll", tag = "agents", request_body = EnrollRequest,
    responses((status = 201, body = EnrollResponse), (status = 400, body = crate::error::ProblemDoc), (status = 429, body = crate::error::ProblemDoc)))]
async fn request(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<ApiJson<EnrollRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<EnrollResponse>)> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Anonymous(ip), Action::EnrollmentRequest, "", e).await),
    };
    let _ = b.human_email;
    let r =
        enroll::request(&state, ip, &b.name, b.description.as_deref().unwrap_or(""), b.public_key.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrollResponse {
            agent_id: Uuid::nil(),
            message: format!(
                "enrollment requested: a user must approve it with `clawvault agent approve {}`",
                r.pairing_id
            ),
            approval_url: None,
            pairing_id: r.pairing_id,
            fingerprint: r.fingerprint,
            poll_token: r.poll_token,
        }),
    ))
}

/// Where an enrollment stands; the key comes with the first answer after approval, once.
#[utoipa::path(get, path = "/v1/agents/enroll/{pairing_id}/status", tag = "agents", params(("pairing_id" = Uuid, Path), PollQuery),
    responses((status = 200, body = EnrollStatus), (status = 401, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc), (status = 429, body = crate::error::ProblemDoc)))]
async fn status(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<PollQuery>,
) -> ApiResult<Json<EnrollStatus>> {
    let bearer = header(&headers, "authorization").and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    let token = q.poll.as_deref().or_else(|| header(&headers, "x-poll-token")).or(bearer).unwrap_or("");
    let signature = q.signature.as_deref().or_else(|| header(&headers, "x-enrollment-signature"));
    let p = enroll::poll(&state, ip, &id, token, signature).await?;
    Ok(Json(EnrollStatus { status: p.status, agent_id: p.agent_id, api_key: p.api_key.map(|k| k.to_string()) }))
}

/// Pending enrollment requests (admins).
#[utoipa::path(get, path = "/v1/agents/enroll", tag = "agents", responses((status = 200, body = PendingList), (status = 403, body = crate::error::ProblemDoc)))]
async fn pending(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<Json<PendingList>> {
    let list = enroll::pending(&state, &caller).await?;
    Ok(Json(PendingList {
        enrollments: list
            .into_iter()
            .map(|e| PendingOut {
                pairing_id: e.id,
                name: e.name,
                description: e.description,
                fingerprint: e.fingerprint,
                created_at: e.created_at,
                expires_at: e.expires_at,
            })
            .collect(),
    }))
}

/// Approve an enrollment request (admins): the agent is created and its key handed out on the
/// agent's next poll, once.
#[utoipa::path(post, path = "/v1/agents/enroll/{pairing_id}/approve", tag = "agents", request_body = ApproveRequest, params(("pairing_id" = Uuid, Path)),
    responses((status = 200, body = Approved), (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc), (status = 409, body = crate::error::ProblemDoc)))]
async fn approve(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    body: Result<ApiJson<ApproveRequest>, ApiError>,
) -> ApiResult<Json<Approved>> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::EnrollmentApprove, &id, e).await),
    };
    let fields = AgentFields {
        vault_ids: b.vault_ids,
        token_ttl_seconds: b.token_ttl_seconds.map(Some),
        ..AgentFields::default()
    };
    let agent = enroll::approve(&state, &caller, &id, fields).await?;
    Ok(Json(Approved { agent: AgentOut::from(&agent) }))
}

/// Deny an enrollment request (admins).
#[utoipa::path(post, path = "/v1/agents/enroll/{pairing_id}/deny", tag = "agents", params(("pairing_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc), (status = 409, body = crate::error::ProblemDoc)))]
async fn deny(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    enroll::deny(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
