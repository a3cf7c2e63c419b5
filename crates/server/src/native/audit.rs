use axum::Json;
use axum::extract::{Query, State};
use clawvault_store::AuditFilter;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::{AuditEventOut, AuditList, AuditQuery, ChainScheme, VerifyOut, VerifyQuery};
use super::extract::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::op::Asker;
use crate::service::audit;
use crate::state::AppState;
use clawvault_core::action::Action;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events)).routes(routes!(verify)).routes(routes!(anchor))
}

fn time_param(name: &str, raw: Option<&str>) -> ApiResult<Option<OffsetDateTime>> {
    raw.map(|s| {
        OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| ApiError::BadRequest(format!("{name} must be an RFC 3339 time such as 2026-11-26T00:00:00Z")))
    })
    .transpose()
}

fn newest_first(order: Option<&str>) -> ApiResult<bool> {
    match order {
        None | Some("oldest") => Ok(false),
        Some("newest") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!("order {other:?} is unknown: use oldest or newest"))),
    }
}

/// Audit events, oldest first (or with `order=newest`, newest first), filtered and paged
/// (admins only).
#[utoipa::path(get, path = "/v1/audit/events", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditList), (status = 403, body = crate::error::ProblemDoc)))]
async fn list_events(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditList>> {
    let times = time_param("from", q.from.as_deref()).and_then(|f| Ok((f, time_param("to", q.to.as_deref())?)));
    let params = times.and_then(|t| Ok((t, newest_first(q.order.as_deref())?)));
    let ((from, to), newest_first) = match params {
        Ok(t) => t,
        Err(e) => return Err(audit::refused(&state, Asker::Caller(&caller), Action::AuditList, "", e).await),
    };
    let filter = AuditFilter {
        action: q.action,
        actor_id: q.actor_id,
        resource_id: q.resource_id,
        from,
        to,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
        offset: q.offset.unwrap_or(0),
        newest_first,
    };
    let (events, total) = audit::list(&state, &caller, &filter).await?;
    Ok(Json(AuditList { events: events.into_iter().map(AuditEventOut::from).collect(), count: total, total }))
}

/// Verify the audit hash chain from its first event (admins only).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", params(VerifyQuery),
    responses((status = 200, body = VerifyOut), (status = 403, body = crate::error::ProblemDoc)))]
async fn verify(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<VerifyQuery>,
) -> ApiResult<Json<VerifyOut>> {
    let (report, complete) = audit::verify(&state, &caller, q.limit, q.anchor.as_deref()).await?;
    let broken = report.broken.as_ref();
    let verified = match broken {
        Some(b) => u64::try_from(b.seq - 1).unwrap_or(0),
        None => report.checked,
    };
    Ok(Json(VerifyOut {
        chain_valid: report.is_valid(),
        events_verified: verified,
        events_checked: report.checked,
        broken_at_event_id: broken.map(|b| b.event_id),
        broken_at_seq: broken.map(|b| b.seq),
        broken_reason: broken.map(|b| b.reason.to_string()),
        complete,
        scheme: ChainScheme {
            algorithm: "HMAC-SHA256",
            chain_structure: "hash = HMAC-SHA256(k, label || prev_hash || seq || length-prefixed fields); prev_hash of the first event is 32 zero bytes; an authenticated head records the newest seq and hash",
            hash_field: "hash",
            link_field: "prev_hash",
            documentation: "docs/security.md#audit-chain",
        },
    }))
}

/// The chain head as an anchor to keep elsewhere.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AnchorOut {
    /// `cva1:<seq>:<hash>:<mac>`: give it to `GET /v1/audit/verify?anchor=` or
    /// `clawvault audit verify --anchor` later.
    anchor: String,
    /// Position of the newest event.
    seq: i64,
}

/// The audit chain's head as an anchor: keep it where whoever controls the database cannot
/// reach it; a later verification with it fails if the chain no longer extends it (admins).
#[utoipa::path(get, path = "/v1/audit/anchor", tag = "audit",
    responses((status = 200, body = AnchorOut), (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc)))]
async fn anchor(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<Json<AnchorOut>> {
    let a = audit::anchor(&state, &caller).await?;
    Ok(Json(AnchorOut { anchor: a.to_string(), seq: a.seq }))
}
