//! The caller of a Connect route: what a Connect client sends as its "Connect token"
//! (`Authorization: Bearer`), which for clawvault is an agent's key, a user's key or an
//! access token. A refusal is Connect's 401; it is still recorded and throttled as every
//! surface's.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;

use super::reply;
use crate::auth::Caller;
use crate::native::extract::ClientIp;
use crate::service::authenticate;
use crate::state::AppState;

/// An authenticated Connect caller.
#[derive(Debug, Clone)]
pub struct ConnectCaller(pub Caller);

impl FromRequestParts<AppState> for ConnectCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await.unwrap_or(ClientIp(None));
        let context = format!("connect:{}", parts.uri.path());
        let result = match crate::auth::bearer(&parts.headers) {
            Ok(presented) => authenticate::caller(state, presented, ip, &context).await,
            Err(e) => Err(authenticate::refused(state, ip, &context, e).await),
        };
        result.map(Self).map_err(|e| reply::refusal(&e))
    }
}
