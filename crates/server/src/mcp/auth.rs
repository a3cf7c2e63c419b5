//! Who may reach `/mcp`, as the MCP authorization spec asks of an HTTP server: the `Host` is
//! one this server answers to (DNS rebinding protection), the bearer (an access token
//! clawvault issued for itself, or an agent or user key) is checked on every request by
//! [`crate::service::authenticate`], and a client without one is told where to learn how to
//! get one (RFC 9728 protected resource metadata, named in the `WWW-Authenticate` challenge).

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONTENT_TYPE, HOST, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use clawvault_core::scope::Scope;

use crate::auth::Caller;
use crate::config::{Config, MAX_BODY_BYTES};
use crate::error::ApiError;
use crate::forwarded;
use crate::service::{access, authenticate};
use crate::state::AppState;
use crate::tls::PeerAddr;

/// Where the protected resource metadata is served (RFC 9728 §3), also with `/mcp` appended.
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The names `/mcp` answers to: loopback, `public_url`'s host, and `mcp_allowed_hosts`.
#[must_use]
pub fn allowed_hosts(config: &Config) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(str::to_owned).into();
    if let Some(host) = config.public_url.as_deref().and_then(authority_of) {
        hosts.push(host.to_owned());
    }
    hosts.extend(config.mcp_allowed_hosts.iter().cloned());
    hosts
}

/// Browser origins `/mcp` accepts: `public_url`'s and `mcp_allowed_origins`.
pub(super) fn allowed_origins(config: &Config) -> Vec<String> {
    let mut origins: Vec<String> = config.public_url.iter().cloned().collect();
    origins.extend(config.mcp_allowed_origins.iter().cloned());
    origins
}

fn authority_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split('/').next().unwrap_or(rest)).filter(|a| !a.is_empty())
}

/// Whether `host` (a `Host` header: name or address, maybe a port) is one of `allowed`
/// (entries without a port allow any port).
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let Ok(host) = host.parse::<axum::http::uri::Authority>() else { return false };
    let name = host.host().trim_matches(['[', ']']);
    allowed.iter().any(|entry| match entry.parse::<axum::http::uri::Authority>() {
        Ok(a) => {
            a.host().trim_matches(['[', ']']).eq_ignore_ascii_case(name)
                && a.port_u16().is_none_or(|p| Some(p) == host.port_u16())
        }
        // `::1` is no authority without its brackets.
        Err(_) => entry.trim_matches(['[', ']']).eq_ignore_ascii_case(name),
    })
}

/// The host a request names: its `Host` header, or the `:authority` of an HTTP/2 request
/// (which carries no `Host`).
fn request_host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> &'a str {
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(axum::http::uri::Authority::as_str))
        .unwrap_or_default()
}

/// This server's address as its MCP clients see it: `public_url`, else the host they asked
/// for when it is one this server answers to, else the listen address.
pub(super) fn base_url(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    if let Some(url) = &state.config.public_url {
        return url.clone();
    }
    let scheme = if state.config.tls.is_some() { "https" } else { "http" };
    let host = request_host(headers, uri);
    if host_allowed(host, &allowed_hosts(&state.config)) {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{}", state.config.listen)
    }
}

/// The middleware in front of `/mcp`: refuses a foreign `Host` (403) and a missing or bad
/// bearer (401 with the challenge), and hands the authenticated caller to the tools in the
/// request's extensions.
pub(super) async fn admit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let host = request_host(req.headers(), req.uri());
    if !host_allowed(host, &allowed_hosts(&state.config)) {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({
                "error": "forbidden_host",
                "error_description": format!(
                    "this server does not answer MCP requests for the host {host:?}: add it to mcp_allowed_hosts in the server's configuration (or set public_url)"
                ),
            })),
        )
            .into_response();
    }
    let peer = req.extensions().get::<ConnectInfo<PeerAddr>>().map(|c| c.0.0.ip());
    let ip = peer
        .map(|ip| forwarded::client(ip, req.headers(), &state.config.trusted_proxies, state.config.forwarded_header));
    let caller = match crate::auth::bearer(req.headers()) {
        Ok(credential) => authenticate::caller(&state, credential, ip, super::PATH).await,
        Err(e) => Err(authenticate::refused(&state, ip, super::PATH, e).await),
    };
    let caller = match caller {
        Ok(caller) => caller,
        Err(e) => return challenge(&state, req.headers(), req.uri(), &e),
    };
    // Only a user's scoped key can lack a tool's scope: only then is the body looked into.
    if !caller.principal.is_agent() && !caller.principal.scopes.is_empty() {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "error": "invalid_request",
                    "error_description": format!("the request body did not arrive in time or is over {MAX_BODY_BYTES} bytes"),
                })),
            )
                .into_response();
        };
        if let Some(scope) = missing_scope(&caller, &bytes) {
            return insufficient_scope(&state, &parts.headers, &parts.uri, scope);
        }
        req = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// The scope of a user's API key that a tool needs (what the service layer checks first when
/// the tool runs); `None` for what any key may call.
fn tool_scope(tool: &str) -> Option<Scope> {
    Some(match tool {
        "list_secrets" | "describe_secret" | "list_versions" | "get_secret" | "get_env_bundle" => Scope::SecretsRead,
        "put_secret" | "rotate_and_store" | "rotate_generate" | "delete_secret" | "request_secret" => {
            Scope::SecretsWrite
        }
        "inspect_content" | "github_token" => Scope::SecretsUse,
        "list_vaults" => Scope::VaultsRead,
        "create_vault" => Scope::VaultsWrite,
        "grant_access" => Scope::PoliciesWrite,
        "share_secret" => Scope::SharesWrite,
        _ => return None,
    })
}

/// The first scope a `tools/call` in `body` (one message or a batch) needs and the caller's
/// key lacks.
fn missing_scope(caller: &Caller, body: &[u8]) -> Option<Scope> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let messages = match &value {
        serde_json::Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    messages
        .into_iter()
        .filter(|m| m.get("method").and_then(|v| v.as_str()) == Some("tools/call"))
        .filter_map(|m| m.pointer("/params/name").and_then(|v| v.as_str()).and_then(tool_scope))
        .find(|scope| !access::has_scope(caller, *scope))
}

/// 403 with the challenge the MCP spec asks for when a token lacks a scope.
fn insufficient_scope(state: &AppState, headers: &HeaderMap, uri: &Uri, scope: Scope) -> Response {
    let metadata = format!("{}{METADATA_PATH}{}", base_url(state, headers, uri), super::PATH);
    let mut resp = (
        StatusCode::FORBIDDEN,
        Json(json!({
            "error": "insufficient_scope",
            "error_description": format!("this API key does not have the scope {scope} this tool needs: use a key that has it"),
        })),
    )
        .into_response();
    let value = format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{metadata}\"");
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    resp
}

/// A refusal before any tool runs: 401 carries the RFC 9728 challenge so a client can
/// discover how to authenticate; 429 and 503 keep their meaning.
fn challenge(state: &AppState, headers: &HeaderMap, uri: &Uri, e: &ApiError) -> Response {
    let status = e.status();
    let mut resp = (
        status,
        Json(json!({
            "error": if status == StatusCode::UNAUTHORIZED { "invalid_token" } else { "temporarily_unavailable" },
            "error_description": e.to_string(),
        })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        let metadata = format!("{}{METADATA_PATH}{}", base_url(state, headers, uri), super::PATH);
        let value = format!("Bearer resource_metadata=\"{metadata}\", error=\"invalid_token\"");
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(WWW_AUTHENTICATE, v);
        }
    }
    if let ApiError::TooManyRequests { retry_after, .. } = e.unhinted().0
        && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
    {
        resp.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// RFC 9728 protected resource metadata: what `/mcp` is, and that this same server issues
/// its tokens (its OAuth token endpoint takes an agent key by the `client_credentials` grant).
pub(super) async fn protected_resource(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let base = base_url(&state, &headers, &uri);
    Json(json!({
        "resource": format!("{base}{}", super::PATH),
        "authorization_servers": [base],
        "scopes_supported": clawvault_core::scope::Scope::ALL.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
        "resource_name": "clawvault",
        "resource_documentation": "https://github.com/clawvault/clawvault/blob/main/docs/mcp.md",
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::{HeaderMap, Uri, host_allowed, request_host};

    #[test]
    fn an_http2_request_names_its_host_in_the_authority() {
        let uri: Uri = "https://vault.example:8443/mcp".parse().unwrap_or_default();
        assert_eq!(request_host(&HeaderMap::new(), &uri), "vault.example:8443");
        let mut headers = HeaderMap::new();
        headers.insert(super::HOST, super::HeaderValue::from_static("localhost:1"));
        assert_eq!(request_host(&headers, &uri), "localhost:1", "Host wins when sent");
    }

    #[test]
    fn hosts_match_by_name_and_optional_port() {
        let allowed: Vec<String> = ["localhost", "127.0.0.1", "::1", "vault.example:8443"].map(str::to_owned).into();
        for ok in ["localhost", "LOCALHOST:9000", "127.0.0.1:8200", "[::1]:80", "vault.example:8443"] {
            assert!(host_allowed(ok, &allowed), "{ok}");
        }
        for refused in ["evil.example", "vault.example", "vault.example:443", "127.0.0.2", "", "localhost.evil"] {
            assert!(!host_allowed(refused, &allowed), "{refused}");
        }
    }
}
