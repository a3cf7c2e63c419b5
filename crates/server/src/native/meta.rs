use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::Health;
use crate::config::Storage;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready)).routes(routes!(jwks))
}

/// Liveness and readiness probe.
#[utoipa::path(get, path = "/v1/health", tag = "meta", responses((status = 200, body = Health)))]
async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(health_of(&state, "ok"))
}

fn health_of(state: &AppState, status: &'static str) -> Health {
    let storage = match state.config.storage {
        Storage::Sqlite => "sqlite",
        Storage::Postgres { .. } => "postgres",
    };
    Health { status, version: env!("CARGO_PKG_VERSION"), storage, sealed: false }
}

/// Readiness probe: 200 while the database answers, 503 otherwise (so a load balancer stops
/// sending requests to a replica that cannot serve them, without restarting it).
#[utoipa::path(get, path = "/v1/health/ready", tag = "meta", responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, Json(health_of(&state, "ok"))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, Json(health_of(&state, "database unavailable")))
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(health_of(&state, "database too slow"))),
    }
}

/// The public keys that verify clawvault's access tokens (JWK set).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "meta", responses((status = 200, body = Object)))]
async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.tokens.jwks())
}
