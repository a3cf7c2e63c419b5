//! Authentication at the HTTP edge: the [`Caller`] extractor turns `Authorization: Bearer`
//! into a verified [`Principal`], auditing every refusal.

pub mod forwarded;
pub mod principal;
pub mod tokens;

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::op::Op;
use crate::state::AppState;
use crate::tls::PeerAddr;
use clawvault_core::action::Action;
pub use principal::{Actor, Credential, Principal};
pub use tokens::{Checked, SigningKey, TokenError, TokenService};

/// Admits a token seen for the first time, once what stands behind it is confirmed in the
/// database (after a restart the in-memory revocation state is gone; the database is not): a
/// person's API key still exists and has not expired, an agent is still active, unexpired,
/// and was not cut off (deactivated, re-keyed, re-bound) after the token was issued: by time,
/// and by token generation, which also catches a token minted from the row as it was just
/// before a cut-off committed.
async fn admit(state: &AppState, parts: &Parts, p: Principal) -> Result<Arc<Principal>, ApiError> {
    let revoked = || ApiError::Unauthorized(TokenError::Revoked.to_string());
    let epoch = state.tokens.epoch();
    match &p.actor {
        Actor::User { id, api_key_id, .. } => {
            let key = state.store.api_key(*api_key_id).await?;
            if !key.as_ref().is_some_and(|k| k.is_active && k.user_id == *id) {
                state.tokens.kill_api_key(*api_key_id);
                return Err(revoked());
            }
            if key.and_then(|k| k.expires_at).is_some_and(|at| at <= time::OffsetDateTime::now_utc()) {
                return Err(ApiError::Unauthorized(TokenError::Expired.to_string()));
            }
        }
        Actor::Agent { id, token_generation, .. } => {
            let now = time::OffsetDateTime::now_utc();
            let agent = state.store.agent(*id).await?;
            let standing = agent.as_ref().is_some_and(|a| {
                a.is_active
                    && a.token_generation == *token_generation
                    && a.expires_at.is_none_or(|at| at > now)
                    && a.not_before.is_none_or(|nb| p.issued_at_us >= clawvault_core::time_util::unix_micros(nb))
            });
            if !standing {
                return Err(revoked());
            }
        }
    }
    let token = bearer(parts)?;
    Ok(state.tokens.admit(token, p, epoch))
}

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
        Ok(Self(peer.map(|ip| forwarded::client(ip, &parts.headers, &state.config.trusted_proxies))))
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
        // Revocations, policy changes and writes made by other servers apply to this request.
        crate::follow::catch_up(state).await?;
        // A `1ck_`/`ocv_` key may be sent as the bearer itself (1Claw documents it): checked
        // against the database once, then cached under the same gates as tokens.
        if let Ok(token) = bearer(parts)
            && (token.starts_with("1ck_") || token.starts_with("ocv_"))
        {
            if let Some(principal) = state.tokens.cached_key(token) {
                return Ok(Self { principal, ip });
            }
            let mut op = Op::anonymous(state, ip, Action::ApiKeyAuth);
            op.detail("path", crate::app::loggable_path(parts.uri.path()));
            return match crate::service::keys::admit_key(state, &mut op, token).await {
                Ok(principal) => Ok(Self { principal, ip }),
                Err(e) => Err(op.fail(e).await),
            };
        }
        let verified = bearer(parts)
            .and_then(|token| state.tokens.check(token).map_err(|e| ApiError::Unauthorized(e.to_string())));
        let verified = match verified {
            Ok(Checked::Cached(p)) => Ok(p),
            Ok(Checked::Fresh(p)) => admit(state, parts, p).await,
            Err(e) => Err(e),
        };
        match verified {
            Ok(principal) => Ok(Self { principal, ip }),
            Err(e) => {
                let mut op = Op::anonymous(state, ip, Action::TokenAuth);
                op.detail("path", crate::app::loggable_path(parts.uri.path()));
                Err(op.fail(e).await)
            }
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
