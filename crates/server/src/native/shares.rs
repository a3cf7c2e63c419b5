use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use clawvault_core::SecretValue;
use clawvault_store::ShareRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Authenticated, ClientIp, MaybeCaller};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::op::Asker;
use crate::service::audit::refused;
use crate::service::shares::{self, NewShare};
use crate::state::AppState;
use clawvault_core::action::Action;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_share))
        .routes(routes!(open_share, revoke_share))
        .routes(routes!(all_shares))
        .routes(routes!(outbound))
        .routes(routes!(inbound))
        .routes(routes!(accept))
        .routes(routes!(decline))
}

/// `POST /v1/secrets/{secret_id}/share`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateShareRequest {
    /// `user`, `agent`, `creator` (agents: their user) or `anyone_with_link`.
    recipient_type: String,
    recipient_id: Option<Uuid>,
    /// Required.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: OffsetDateTime,
    max_access_count: Option<i64>,
    /// Required to open the share (at least 8 characters, not counting spaces).
    #[schema(value_type = Option<String>)]
    passphrase: Option<SecretValue>,
    #[serde(default)]
    ip_allowlist: Vec<String>,
}

/// A created share.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareCreated {
    id: Uuid,
    share_url: String,
    recipient_type: String,
    recipient_email: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: OffsetDateTime,
    max_access_count: Option<i64>,
}

/// `GET /v1/share/{id}` body (a JSON body on a GET, as 1Claw's SDK sends it).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct OpenShareRequest {
    #[schema(value_type = Option<String>)]
    passphrase: Option<SecretValue>,
}

/// An opened share.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareOpened {
    id: Uuid,
    path: String,
    #[serde(rename = "type")]
    secret_type: String,
    #[schema(value_type = String)]
    value: SecretValue,
    access_count: i64,
    max_access_count: Option<i64>,
}

/// A share in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareOut {
    id: Uuid,
    secret_id: Uuid,
    secret_path: String,
    recipient_type: String,
    recipient_id: Option<Uuid>,
    recipient_email: Option<String>,
    access_count: i64,
    max_access_count: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    is_expired: bool,
    is_accepted: bool,
    /// The recipient declined it: it stays closed.
    is_declined: bool,
    is_revoked: bool,
}

impl From<&ShareRecord> for ShareOut {
    fn from(s: &ShareRecord) -> Self {
        Self {
            id: s.id,
            secret_id: s.secret_id,
            secret_path: s.secret_path.clone(),
            recipient_type: s.recipient_type.as_str().to_owned(),
            recipient_id: s.recipient_id,
            recipient_email: s.recipient_email.clone(),
            access_count: s.access_count,
            max_access_count: s.max_access_count,
            expires_at: s.expires_at,
            created_at: s.created_at,
            is_expired: s.expires_at <= OffsetDateTime::now_utc(),
            is_accepted: s.accepted,
            is_declined: s.declined,
            is_revoked: s.revoked,
        }
    }
}

/// `{shares: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareList {
    shares: Vec<ShareOut>,
}

/// The link of a share: under `public_url` when configured, else the address the server
/// listens on; never the request's `Host` header, which the caller writes (a link pointing at
/// the caller's own host would hand the share to whoever runs it).
/// The link that opens a share on the native API (its id is the capability).
pub(crate) fn share_url(state: &AppState, id: Uuid) -> String {
    let base = state.config.public_url.as_deref().unwrap_or("http://localhost");
    format!("{base}/v1/share/{id}")
}

/// Share a secret (needs the `share` permission on its path).
#[utoipa::path(post, path = "/v1/secrets/{secret_id}/share", tag = "shares", request_body = CreateShareRequest, params(("secret_id" = Uuid, Path)),
    responses((status = 201, body = ShareCreated), (status = 400, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc), (status = 429, body = crate::error::ProblemDoc)))]
async fn create_share(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(secret_id): Path<String>,
    body: Result<ApiJson<CreateShareRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<ShareCreated>)> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::ShareCreate, &secret_id, e).await),
    };
    let new = NewShare {
        recipient_type: b.recipient_type,
        recipient_id: b.recipient_id,
        expires_at: b.expires_at,
        max_access_count: b.max_access_count,
        passphrase: b.passphrase,
        ip_allowlist: b.ip_allowlist,
    };
    let share = shares::create(&state, &caller, &secret_id, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(ShareCreated {
            id: share.id,
            share_url: share_url(&state, share.id),
            recipient_type: share.recipient_type.as_str().to_owned(),
            recipient_email: None,
            expires_at: share.expires_at,
            max_access_count: share.max_access_count,
        }),
    ))
}

/// Open a share: anyone with the link (for `anyone_with_link`), else its recipient after
/// accepting it. The passphrase, if any, comes as a JSON body, even on this GET.
#[utoipa::path(get, path = "/v1/share/{share_id}", tag = "shares", request_body = OpenShareRequest, params(("share_id" = Uuid, Path)),
    responses((status = 200, body = ShareOpened), (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc), (status = 410, body = crate::error::ProblemDoc)))]
async fn open_share(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    body: Result<ApiJson<OpenShareRequest>, ApiError>,
) -> ApiResult<Json<ShareOpened>> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => {
            let asker = caller.as_ref().map_or(Asker::Anonymous(ip), Asker::Caller);
            // The id is a capability: not written into the trail, even when the body is bad.
            return Err(refused(&state, asker, Action::ShareAccess, "", e).await);
        }
    };
    let o = shares::open(&state, caller.as_ref(), ip, &id, b.passphrase).await?;
    Ok(Json(ShareOpened {
        id: o.share.id,
        path: o.share.secret_path,
        secret_type: o.meta.secret_type.as_str().to_owned(),
        value: o.value,
        access_count: o.share.access_count,
        max_access_count: o.share.max_access_count,
    }))
}

/// Revoke a share you created (admins: any share).
#[utoipa::path(delete, path = "/v1/share/{share_id}", tag = "shares", params(("share_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::error::ProblemDoc)))]
async fn revoke_share(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    shares::revoke(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every share on the server, newest first (admins).
#[utoipa::path(get, path = "/v1/shares", tag = "shares", responses((status = 200, body = ShareList), (status = 403, body = crate::error::ProblemDoc)))]
async fn all_shares(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<Json<ShareList>> {
    let list = shares::all(&state, &caller).await?;
    Ok(Json(ShareList { shares: list.iter().map(ShareOut::from).collect() }))
}

/// Shares you created.
#[utoipa::path(get, path = "/v1/shares/outbound", tag = "shares", responses((status = 200, body = ShareList)))]
async fn outbound(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<Json<ShareList>> {
    let list = shares::outbound(&state, &caller).await?;
    Ok(Json(ShareList { shares: list.iter().map(ShareOut::from).collect() }))
}

/// Shares addressed to you.
#[utoipa::path(get, path = "/v1/shares/inbound", tag = "shares", responses((status = 200, body = ShareList)))]
async fn inbound(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<Json<ShareList>> {
    let list = shares::inbound(&state, &caller).await?;
    Ok(Json(ShareList { shares: list.iter().map(ShareOut::from).collect() }))
}

async fn respond(state: AppState, caller: Caller, id: String, accept: bool) -> ApiResult<StatusCode> {
    shares::respond(&state, &caller, &id, accept).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accept a share addressed to you (not one you declined: declining is final).
#[utoipa::path(post, path = "/v1/shares/{share_id}/accept", tag = "shares", params(("share_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::error::ProblemDoc), (status = 410, body = crate::error::ProblemDoc)))]
async fn accept(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    respond(state, caller, id, true).await
}

/// Decline a share addressed to you: it stays closed to you from then on.
#[utoipa::path(post, path = "/v1/shares/{share_id}/decline", tag = "shares", params(("share_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::error::ProblemDoc)))]
async fn decline(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    respond(state, caller, id, false).await
}
