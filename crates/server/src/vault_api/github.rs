//! `<mount>/github-token/<path>`: an installation token minted from a `github_app` secret,
//! in Vault's envelope, for the External Secrets Operator's `VaultDynamicSecret` generator
//! (`path: /<vault>/github-token/<path>`, `method: POST` with `parameters` to narrow it, or
//! `GET`). `lease_duration` is the token's remaining life; ESO never revokes what it gets, and
//! GitHub's own expiry bounds the token.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use clawvault_core::github_app::Narrowing;
use clawvault_core::time_util::{now, rfc3339};
use serde_json::json;

use super::auth::VaultCaller;
use super::reply;
use crate::service::github;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/{mount}/github-token/{*path}", get(read).post(write).put(write))
}

async fn read(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
) -> Response {
    mint(&state, &caller, &mount, &path, Narrowing::default()).await
}

async fn write(
    State(state): State<AppState>,
    VaultCaller(caller): VaultCaller,
    Path((mount, path)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let narrowing: Narrowing = if body.iter().all(u8::is_ascii_whitespace) {
        Narrowing::default()
    } else {
        // An object only: serde would also read a struct from an array.
        match serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .filter(serde_json::Value::is_object)
            .map(serde_json::from_value)
        {
            Some(Ok(n)) => n,
            _ => {
                return reply::bad_request(
                    "the body may hold only repositories (a list of names) and permissions (name to read, write or admin)",
                );
            }
        }
    };
    mint(&state, &caller, &mount, &path, narrowing).await
}

async fn mint(
    state: &AppState,
    caller: &crate::auth::Caller,
    mount: &str,
    path: &str,
    narrowing: Narrowing,
) -> Response {
    match github::mint(state, caller, mount, path, narrowing).await {
        Ok(minted) => {
            let t = minted.token;
            let left = (t.expires_at - now()).whole_seconds().max(0);
            let data = json!({
                "token": t.token.as_str(),
                "expires_at": rfc3339(t.expires_at),
                "permissions": t.permissions,
                "repositories": t.repositories,
            });
            reply::leased(StatusCode::OK, data, serde_json::Value::Null, left)
        }
        Err(e) => reply::refusal(&e),
    }
}
