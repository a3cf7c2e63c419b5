//! Authentication at the HTTP edge: the [`Caller`] extractor finds the credential in
//! `Authorization: Bearer` and hands it to [`crate::service::authenticate`], which checks it
//! (the same for every surface) and audits every refusal.

pub mod forwarded;
pub mod principal;
pub mod tokens;

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::service::authenticate;
use crate::state::AppState;
use crate::tls::PeerAddr;
pub use principal::{Actor, Credential, Principal};
pub use tokens::{Checked, SigningKey, TokenError, TokenService};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub principal: Arc<Principal>,
    /// From where.
    pub ip: Option<IpAddr>,
}

/// The client's address (absent for in-process tests): the connection's peer, or, when the
/// peer is one of `trusted_proxies`, the client the proxy names in `Forwarded` or
/// `X-Forwarded-For` (the nearest address there that is not itself a trusted proxy).
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await.unwrap_or(ClientIp(None));
        let context = crate::app::loggable_path(parts.uri.path());
        match bearer(parts) {
            Ok(credential) => authenticate::caller(state, credential, ip, &context).await,
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
            Caller::from_request_parts(parts, state).await.map(|c| Self(Some(c)))
        } else {
            Ok(Self(None))
        }
    }
}
