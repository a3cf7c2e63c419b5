//! The fleet view: `POST /v1/consumers/ack` (a consumer says which versions it holds) and
//! `GET /v1/consumers` (who holds what, against the latest version).

use axum::Json;
use axum::extract::{Query, State};
use clawvault_core::time_util::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::op::Asker;
use crate::service::audit::refused;
use crate::service::consumers::{self, Held};
use crate::state::AppState;
use clawvault_core::action::Action;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ack)).routes(routes!(list))
}

/// One secret a consumer holds.
#[derive(Debug, Deserialize, ToSchema)]
pub struct HeldIn {
    /// Vault name or id.
    vault: String,
    /// Secret path.
    path: String,
    /// The version it holds.
    version: i64,
}

/// What a consumer holds.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AckRequest {
    /// The consumer's name (what it runs: `sync`, `run:discord-bot`).
    consumer: String,
    /// The host it runs on.
    host: String,
    /// The secrets it holds, with their versions.
    secrets: Vec<HeldIn>,
}

/// How many rows were recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct AckOut {
    acknowledged: usize,
}

/// Record the versions a consumer of the caller holds (each secret one the caller may use,
/// read or list).
#[utoipa::path(post, path = "/v1/consumers/ack", tag = "consumers", request_body = AckRequest,
    responses((status = 200, body = AckOut), (status = 400, body = crate::error::ProblemDoc),
              (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc)))]
async fn ack(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    body: Result<ApiJson<AckRequest>, ApiError>,
) -> ApiResult<Json<AckOut>> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::ConsumerAck, "", e).await),
    };
    let held: Vec<Held> =
        b.secrets.into_iter().map(|h| Held { vault: h.vault, path: h.path, version: h.version }).collect();
    let acknowledged = consumers::ack(&state, &caller, &b.consumer, &b.host, &held).await?;
    Ok(Json(AckOut { acknowledged }))
}

/// Which consumers to show.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FleetQuery {
    /// One vault (name or id).
    vault: Option<String>,
    /// One secret's path (with `vault`).
    path: Option<String>,
}

/// One consumer's hold of one secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsumerOut {
    consumer: String,
    host: String,
    /// `agent` or `user`.
    principal_type: String,
    principal_id: Uuid,
    vault_id: Uuid,
    vault: String,
    path: String,
    /// The version it holds.
    version: i64,
    /// The secret's current version (absent: deleted).
    latest_version: Option<i64>,
    /// It holds an older version than the current one.
    stale: bool,
    /// It has not acknowledged anything for ten minutes.
    silent: bool,
    /// When it last acknowledged.
    seen_at: String,
}

/// The fleet.
#[derive(Debug, Serialize, ToSchema)]
pub struct FleetOut {
    consumers: Vec<ConsumerOut>,
}

/// Who holds which version of the secrets the caller may list, against the latest.
#[utoipa::path(get, path = "/v1/consumers", tag = "consumers", params(FleetQuery),
    responses((status = 200, body = FleetOut), (status = 403, body = crate::error::ProblemDoc),
              (status = 404, body = crate::error::ProblemDoc)))]
async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<FleetQuery>,
) -> ApiResult<Json<FleetOut>> {
    let rows = consumers::fleet(&state, &caller, q.vault.as_deref(), q.path.as_deref()).await?;
    Ok(Json(FleetOut {
        consumers: rows
            .into_iter()
            .map(|r| ConsumerOut {
                consumer: r.record.consumer,
                host: r.record.host,
                principal_type: r.record.principal_type.as_str().to_owned(),
                principal_id: r.record.principal_id,
                vault_id: r.record.vault_id,
                vault: r.vault,
                path: r.record.path,
                version: r.record.version,
                latest_version: r.latest,
                stale: r.stale,
                silent: r.silent,
                seen_at: rfc3339(r.record.seen_at),
            })
            .collect(),
    }))
}
