//! The MCP surface: 1Claw's tools over the service layer, served as streamable HTTP at `/mcp`
//! (`clawvault mcp` relays a stdio client to it). Stateless: every request carries its bearer
//! and is answered alone, so any replica behind a load balancer answers any request, and no
//! session outlives its request.
//!
//! What the tools may do is decided where it is for every surface: each tool is a call of
//! [`crate::service`], audited there, plus one `mcp.tool_call` event naming the tool and the
//! paths it named. Its OAuth side (`oauth`) turns an agent key into an access token for
//! clients that follow the MCP authorization flow.

mod auth;
mod handler;
mod oauth;
mod output;
mod params;
mod tools;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::config::{Config, MAX_BODY_BYTES};
use crate::state::AppState;

pub use auth::allowed_hosts;

/// Where the MCP endpoint is served.
pub const PATH: &str = "/mcp";

/// `/mcp` and the OAuth metadata that tells an MCP client how to authenticate to it.
pub fn router(state: &AppState) -> Router<AppState> {
    let handler = handler::Clawvault::new(state.clone());
    let service = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(NeverSessionManager::default()),
        transport_config(&state.config),
    );
    Router::new()
        .nest_service(PATH, service)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::admit))
        .route(auth::METADATA_PATH, get(auth::protected_resource))
        .route(&format!("{}{PATH}", auth::METADATA_PATH), get(auth::protected_resource))
        .route(oauth::METADATA_PATH, get(oauth::metadata))
        .route(oauth::TOKEN_PATH, axum::routing::post(oauth::token))
        .route(oauth::AUTHORIZE_PATH, get(oauth::authorize))
        // rmcp reads request bodies itself: the deadline the native API's extractor keeps is
        // kept here by the body.
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs(state.config.body_timeout_seconds)))
}

fn transport_config(config: &Config) -> StreamableHttpServerConfig {
    StreamableHttpServerConfig::default()
        // Sessions would live in one replica's memory; the 2026-07-28 revision has none anyway.
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(MAX_BODY_BYTES)
        // Checked first by `auth::admit` with a message naming the setting; kept here too.
        .with_allowed_hosts(allowed_hosts(config))
        .with_allowed_origins(auth::allowed_origins(config))
        .enforce_origin_validation()
}
