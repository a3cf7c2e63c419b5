//! `auth/token/*-self`: what a token says about itself. ESO reads `type`, `ttl` (a JSON
//! number) and `expire_time` (present; `null` for a credential that does not expire) before it
//! reuses a token, and revokes its own token after every reconcile with a login-based store.
//! A clawvault access token looks like a Vault service token that expires; an API key used as
//! the token looks like a token that never does. The credential itself is never echoed.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use clawvault_core::time_util::rfc3339;
use serde_json::json;
use time::OffsetDateTime;

use super::auth::VaultCaller;
use super::reply;
use crate::auth::Credential;
use crate::service::{keys, whoami};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/token/lookup-self", get(lookup_self))
        .route("/v1/auth/token/renew-self", post(renew_self).put(renew_self))
        .route("/v1/auth/token/revoke-self", post(revoke_self).put(revoke_self))
}

async fn lookup_self(State(state): State<AppState>, VaultCaller(caller): VaultCaller) -> Response {
    let identity = match whoami::whoami(&state, &caller).await {
        Ok(i) => i,
        Err(e) => return reply::refusal(&e),
    };
    // ESO treats a ttl under a minute with an expiry as expired: both come from the credential.
    let expires = identity.credential_expires_at;
    let ttl = expires.map_or(0, |e| (e - OffsetDateTime::now_utc()).whole_seconds().max(0));
    let issued = OffsetDateTime::from_unix_timestamp_nanos(i128::from(caller.principal.issued_at_us) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let created = match caller.principal.credential {
        Credential::Token => issued,
        Credential::ApiKey => OffsetDateTime::now_utc(),
    };
    reply::data(json!({
        "accessor": caller.principal.jti,
        "creation_time": created.unix_timestamp(),
        // Rounded: the expiry is in whole seconds, the issue time in microseconds.
        "creation_ttl": expires.map_or(0, |e| ((e - created).as_seconds_f64().round() as i64).max(0)),
        "display_name": identity.name,
        "entity_id": caller.principal.id().to_string(),
        "expire_time": expires.map(rfc3339),
        "explicit_max_ttl": 0,
        "id": "",
        "issue_time": rfc3339(created),
        "meta": {"kind": caller.principal.kind().as_str(), "credential": caller.principal.credential.as_str()},
        "num_uses": 0,
        "orphan": true,
        "path": "auth/token/create",
        "policies": ["default"],
        "renewable": false,
        "ttl": ttl,
        "type": "service",
    }))
}

/// Tokens are not renewed: a client asks for a new one the way it got this one. The answer
/// says so the way Vault does for a token that is not renewable.
async fn renew_self(VaultCaller(_): VaultCaller) -> Response {
    reply::bad_request("lease is not renewable: log in again (or exchange the key again) for a new token")
}

async fn revoke_self(State(state): State<AppState>, VaultCaller(caller): VaultCaller) -> Response {
    if caller.principal.credential == Credential::ApiKey {
        return reply::bad_request(
            "this credential is an API key, not a token: delete the key itself (clawvault key delete, or the agent's re-key) to revoke it",
        );
    }
    match keys::revoke_token(&state, &caller).await {
        Ok(()) => reply::no_content(),
        Err(e) => reply::refusal(&e),
    }
}
