//! `auth/{kubernetes,jwt,approle}/login`: a workload's proof of identity for a short-lived
//! clawvault token of the agent its role maps to ([`crate::service::login`]). Logins ignore
//! any `X-Vault-Token` sent along (clients send stale ones) and answer every refusal with
//! Vault's 400.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::reply;
use crate::native::extract::ClientIp;
use crate::service::login::{self, Login, Method};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/kubernetes/login", post(kubernetes).put(kubernetes))
        .route("/v1/auth/jwt/login", post(jwt).put(jwt))
        .route("/v1/auth/approle/login", post(approle).put(approle))
}

fn fields(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) | Err(_) if body.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(_) => Err("failed to decode JSON input: the body must be a JSON object".into()),
        Err(e) => Err(format!("failed to decode JSON input: {e}")),
    }
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Vault's login answer: no `data`, the token in `auth`.
fn granted(login: &Login) -> Response {
    reply::envelope(
        StatusCode::OK,
        Value::Null,
        json!({
            "client_token": login.token,
            "accessor": "",
            "policies": ["default"],
            "token_policies": ["default"],
            "metadata": {"role": login.role.name, "agent": login.agent.name, "agent_id": login.agent.id.to_string()},
            "lease_duration": login.ttl,
            "renewable": false,
            "entity_id": login.agent.id.to_string(),
            "token_type": "service",
            "orphan": true,
            "mfa_requirement": null,
            "num_uses": 0,
        }),
    )
}

async fn with_jwt(state: &AppState, ip: Option<std::net::IpAddr>, method: Method, body: &[u8]) -> Response {
    let map = match fields(body) {
        Ok(m) => m,
        Err(message) => return reply::bad_request(&message),
    };
    if text(&map, "jwt").is_empty() {
        return reply::bad_request("missing jwt");
    }
    match login::login_jwt(state, ip, method, text(&map, "role"), text(&map, "jwt")).await {
        Ok(login) => granted(&login),
        Err(e) => reply::refusal(&e),
    }
}

async fn kubernetes(State(state): State<AppState>, ClientIp(ip): ClientIp, body: Bytes) -> Response {
    with_jwt(&state, ip, Method::Kubernetes, &body).await
}

async fn jwt(State(state): State<AppState>, ClientIp(ip): ClientIp, body: Bytes) -> Response {
    with_jwt(&state, ip, Method::Jwt, &body).await
}

async fn approle(State(state): State<AppState>, ClientIp(ip): ClientIp, body: Bytes) -> Response {
    let map = match fields(&body) {
        Ok(m) => m,
        Err(message) => return reply::bad_request(&message),
    };
    match login::login_approle(&state, ip, text(&map, "role_id"), text(&map, "secret_id")).await {
        Ok(login) => granted(&login),
        Err(e) => reply::refusal(&e),
    }
}
