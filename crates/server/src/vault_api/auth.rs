//! The caller of a Vault API route: a clawvault token or API key sent as `X-Vault-Token` (what
//! the `bao`/`vault` CLI, hvac and the Vault Go client send) or `Authorization: Bearer`. Every
//! refusal is Vault's `403 permission denied`; the failure is still recorded and throttled as
//! the native API records it.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::Response;

use super::reply;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::native::extract::{ClientIp, loggable_path};
use crate::service::authenticate;
use crate::state::AppState;

/// The header the Vault clients send their token in.
pub const TOKEN_HEADER: &str = "x-vault-token";

/// An authenticated Vault API caller.
#[derive(Debug, Clone)]
pub struct VaultCaller(pub Caller);

fn credential(parts: &Parts) -> Result<&str, ApiError> {
    if let Some(token) = parts.headers.get(TOKEN_HEADER) {
        return token
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("the X-Vault-Token header is empty or not text".into()));
    }
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("no X-Vault-Token header".into()))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not valid text".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())),
    }
}

impl FromRequestParts<AppState> for VaultCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await.unwrap_or(ClientIp(None));
        let context = loggable_path(parts.uri.path());
        let result = match credential(parts) {
            Ok(presented) => authenticate::caller(state, presented, ip, &context).await,
            Err(e) => Err(authenticate::refused(state, ip, &context, e).await),
        };
        result.map(Self).map_err(|e| match e.unhinted().0 {
            // Throttling and an unavailable server say so; everything else is Vault's 403.
            ApiError::TooManyRequests { .. } | ApiError::Unavailable(_) => reply::refusal(&e),
            _ => reply::permission_denied(),
        })
    }
}
