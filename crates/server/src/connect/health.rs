//! What Connect answers without a token: `/heartbeat` (a liveness probe) and `/health` (the
//! server's name, version and whether its database answers), and the refusal of `PATCH`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::reply;
use crate::state::AppState;

/// `GET /heartbeat`: `.` as plain text, as Connect answers.
pub async fn heartbeat() -> Response {
    let mut response = (StatusCode::OK, ".").into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// `GET /health`.
pub async fn health(State(state): State<AppState>) -> Response {
    let database = match state.store.ping().await {
        Ok(()) => json!({"service": "database", "status": "ACTIVE"}),
        Err(_) => json!({"service": "database", "status": "UNAVAILABLE", "message": "the database does not answer"}),
    };
    reply::ok(&json!({
        "name": "clawvault 1Password Connect API",
        "version": reply::CONNECT_VERSION,
        "clawvault": env!("CARGO_PKG_VERSION"),
        "dependencies": [database],
    }))
}

/// `PATCH` on an item (RFC 6902 in Connect) is not offered: clients replace items.
pub async fn no_patch() -> Response {
    reply::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "PATCH is not offered by clawvault's Connect API: read the item, change it and replace it with PUT",
    )
}
