//! The native API's extractors: the client's address, and the caller behind
//! `Authorization: Bearer`, checked by [`crate::service::authenticate`] (the same for every
//! surface), which audits every refusal.

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::forwarded;
use crate::service::authenticate;
use crate::state::AppState;
use crate::tls::PeerAddr;

/// The client's address (absent for in-process tests): the connection's peer, or, when the
/// peer is one of `trusted_proxies`, the client the proxy names in the configured header (the
/// nearest address there that is not itself a trusted proxy).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<PeerAddr>>().map(|c| c.0.0.ip());
        Ok(Self(peer.map(|ip| {
            forwarded::client(ip, &parts.headers, &state.config.trusted_proxies, state.config.forwarded_header)
        })))
    }
}

/// The authenticated caller of a native API route.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await.unwrap_or(ClientIp(None));
        let context = loggable_path(parts.uri.path());
        match bearer(parts) {
            Ok(credential) => authenticate::caller(state, credential, ip, &context).await.map(Self),
            Err(e) => Err(authenticate::refused(state, ip, &context, e).await),
        }
    }
}

/// A caller who may be anonymous (share links): no `Authorization` header means `None`; a
/// header that does not verify is still refused with 401.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(AUTHORIZATION) {
            Authenticated::from_request_parts(parts, state).await.map(|Authenticated(c)| Self(Some(c)))
        } else {
            Ok(Self(None))
        }
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("missing Authorization header: send `Authorization: Bearer <token>` (get a token from POST /v1/auth/api-key-token)".into()))?;
    let value =
        value.to_str().map_err(|_| ApiError::Unauthorized("the Authorization header is not valid text".into()))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into()));
    }
    Ok(token.trim())
}

/// A request path as logs and audit records may hold it: a share's id and a secret request's
/// token are capabilities (their links open them), so they are written as `{share_id}` and
/// `{token}`.
#[must_use]
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    for (prefix, name) in [("/v1/share/", "{share_id}"), ("/request/", "{token}")] {
        if let Some(rest) = path.strip_prefix(prefix)
            && !rest.is_empty()
        {
            return match rest.split_once('/') {
                Some((_, tail)) if !tail.is_empty() => format!("{prefix}{name}/{tail}").into(),
                _ => format!("{prefix}{name}").into(),
            };
        }
    }
    // A proxied path may carry a credential (Telegram's `/bot<token>/`) or a caller's data.
    if let Some(rest) = path.strip_prefix("/proxy/")
        && let Some((route, tail)) = rest.split_once('/')
        && !tail.is_empty()
    {
        return format!("/proxy/{route}/{{path}}").into();
    }
    path.into()
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn capabilities_in_paths_are_never_logged() {
        assert_eq!(loggable_path("/v1/share/5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01"), "/v1/share/{share_id}");
        assert_eq!(loggable_path("/v1/share/abc/extra"), "/v1/share/{share_id}/extra");
        assert_eq!(loggable_path("/request/tok3n-value"), "/request/{token}");
        assert_eq!(loggable_path("/request/tok3n/"), "/request/{token}");
        assert_eq!(loggable_path("/v1/vaults/x/secrets/a"), "/v1/vaults/x/secrets/a");
        assert_eq!(loggable_path("/request/"), "/request/");
        assert_eq!(loggable_path("/proxy/tg/bot123:ocv_x/getMe"), "/proxy/tg/{path}");
        assert_eq!(loggable_path("/proxy/openai"), "/proxy/openai");
    }
}
