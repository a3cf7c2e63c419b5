//! The OAuth 2.1 side of MCP authorization: this server is the authorization server of its
//! own `/mcp`. Its metadata (RFC 8414) names a token endpoint where an MCP client turns an
//! agent key into an access token by the `client_credentials` grant (the agent's id as
//! `client_id`, its `ocv_` key as `client_secret`, in the body or by HTTP Basic). The token is
//! the one `POST /v1/auth/agent-token` issues: signed by this server for itself (its issuer
//! and audience), so it is good here and nowhere else. A `resource` (RFC 8707) other than this
//! server is refused.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;
use zeroize::Zeroizing;

use super::auth::base_url;
use crate::error::ApiError;
use crate::native::extract::ClientIp;
use crate::service::agents;
use crate::state::AppState;

/// Where the token endpoint is served.
pub const TOKEN_PATH: &str = "/oauth/token";
/// The authorization endpoint, which RFC 8414 metadata must name and MCP clients' metadata
/// parsers require: there is no interactive sign-in here, so it only says what to use instead.
pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
/// Where the authorization server metadata is served (RFC 8414 §3).
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// RFC 8414 authorization server metadata.
pub(super) async fn metadata(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let base = base_url(&state, &headers, &uri);
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": [],
    }))
    .into_response()
}

/// `GET /oauth/authorize`: no interactive flow is offered.
pub(super) async fn authorize() -> Response {
    refusal(
        StatusCode::BAD_REQUEST,
        "unsupported_response_type",
        "clawvault signs in no one interactively: an MCP client uses the client_credentials grant at /oauth/token with the agent's id and key, or sends the agent's key as its bearer",
    )
}

/// An RFC 6749 §5.2 error.
fn refusal(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}

/// The fields of a form-encoded token request this endpoint reads; each at most once.
#[derive(Default)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Zeroizing<String>>,
    resource: Option<String>,
}

fn parse(body: &[u8]) -> Result<TokenRequest, &'static str> {
    let mut req = TokenRequest::default();
    for (name, value) in form_urlencoded::parse(body) {
        let value = value.into_owned();
        let slot = match name.as_ref() {
            "grant_type" => &mut req.grant_type,
            "client_id" => &mut req.client_id,
            "resource" => &mut req.resource,
            "client_secret" => {
                if req.client_secret.replace(Zeroizing::new(value)).is_some() {
                    return Err("client_secret is given twice");
                }
                continue;
            }
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err("a parameter is given twice");
        }
    }
    Ok(req)
}

fn decode(raw: &[u8]) -> String {
    percent_encoding::percent_decode(raw).decode_utf8_lossy().into_owned()
}

/// `client_secret_basic`: `Authorization: Basic base64(urlencoded id ":" urlencoded secret)`.
fn basic(headers: &HeaderMap) -> Option<Result<(String, Zeroizing<String>), &'static str>> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = Zeroizing::new(match base64::engine::general_purpose::STANDARD.decode(encoded.trim()) {
        Ok(d) => d,
        Err(_) => return Some(Err("the Basic credentials are not base64")),
    });
    let Some(at) = decoded.iter().position(|b| *b == b':') else {
        return Some(Err("the Basic credentials are not client_id:client_secret"));
    };
    Some(Ok((decode(&decoded[..at]), Zeroizing::new(decode(&decoded[at + 1..])))))
}

/// `POST /oauth/token` with `grant_type=client_credentials`.
pub(super) async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let mut req = match parse(&body) {
        Ok(r) => r,
        Err(why) => return refusal(StatusCode::BAD_REQUEST, "invalid_request", why),
    };
    let by_basic = match basic(&headers) {
        Some(Ok((id, secret))) => {
            if req.client_secret.is_some() {
                return refusal(StatusCode::BAD_REQUEST, "invalid_request", "send the client secret one way only");
            }
            req.client_id = Some(id);
            req.client_secret = Some(secret);
            true
        }
        Some(Err(why)) => return refusal(StatusCode::BAD_REQUEST, "invalid_request", why),
        None => false,
    };
    if req.grant_type.as_deref() != Some("client_credentials") {
        return refusal(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only grant_type=client_credentials is offered: the agent's id as client_id, its ocv_ key as client_secret",
        );
    }
    let base = base_url(&state, &headers, &uri);
    if let Some(resource) = &req.resource {
        let resource = resource.trim_end_matches('/');
        if resource != base && resource != format!("{base}{}", super::PATH) {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_target",
                &format!("this server issues tokens only for itself ({base}{})", super::PATH),
            );
        }
    }
    let Some(secret) = req.client_secret else {
        return refusal(StatusCode::UNAUTHORIZED, "invalid_client", "send the agent's ocv_ key as client_secret");
    };
    let agent_id = match req.client_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
        None => None,
        Some(id) => match uuid::Uuid::parse_str(id) {
            Ok(id) => Some(id),
            Err(_) => {
                return refusal(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client_id must be the agent's id (a UUID)",
                );
            }
        },
    };
    match agents::exchange(&state, ip, &secret, agent_id).await {
        Ok((_, token, ttl)) => {
            Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": ttl })).into_response()
        }
        Err(e) => match e.unhinted().0 {
            ApiError::Unauthorized(detail) => {
                let mut resp = refusal(StatusCode::UNAUTHORIZED, "invalid_client", detail);
                if by_basic {
                    resp.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"clawvault\""));
                }
                resp
            }
            ApiError::TooManyRequests { retry_after, detail } => {
                let mut resp = refusal(StatusCode::TOO_MANY_REQUESTS, "slow_down", detail);
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    resp.headers_mut().insert(RETRY_AFTER, v);
                }
                resp
            }
            other => refusal(other.status(), "temporarily_unavailable", &other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_a_form_and_refuses_repeats() {
        let r = parse(
            b"grant_type=client_credentials&client_id=a%2Bb&client_secret=ocv_x+y&resource=http%3A%2F%2Fh%2Fmcp&x=1",
        )
        .unwrap();
        assert_eq!(r.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(r.client_id.as_deref(), Some("a+b"));
        assert_eq!(r.client_secret.as_deref().map(String::as_str), Some("ocv_x y"));
        assert_eq!(r.resource.as_deref(), Some("http://h/mcp"));
        assert!(parse(b"client_secret=a&client_secret=b").is_err());
        assert!(parse(b"grant_type=a&grant_type=b").is_err());
    }

    #[test]
    fn reads_basic_credentials() {
        let mut h = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode("agent%3A1:ocv_k:ey");
        h.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Basic {encoded}")).unwrap());
        let (id, secret) = basic(&h).unwrap().unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("agent:1", "ocv_k:ey"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert!(basic(&h).unwrap().is_err());
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(basic(&h).is_none());
    }
}
