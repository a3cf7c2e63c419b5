//! The router: one router per API surface, each with the layers of its own format (the
//! native API's problem documents and JSON content type would corrupt a proxied body or an
//! HTML page), composed under the layers every request passes whatever the surface (body
//! limit, no `HEAD` on what reveals values, no-store caching, panic containment, tracing).

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::config::MAX_BODY_BYTES;
use crate::error::ApiError;
use crate::native;
use crate::state::AppState;

/// The OpenAPI document of the native API, generated from the handlers' annotations.
/// Greedy path parameters (`{*path}`, an axum spelling) are written as OpenAPI's `{path}`.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = native::router().split_for_parts();
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths.into_iter().map(|(k, v)| (k.replace("{*", "{"), v)).collect();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    native::openapi::complete(&mut doc);
    doc
}

/// The whole application for `state`; tests drive exactly what production serves.
pub fn app(state: AppState) -> Router {
    let surfaces = Router::new()
        .merge(native_surface())
        .merge(crate::mcp::router(&state))
        .merge(crate::pages::router())
        .merge(crate::vault_api::router())
        .merge(crate::proxy::router())
        // Paths no surface has: answered in the native API's form, the only surface yet.
        .fallback(|| async { ApiError::NotFound("no such endpoint: see /v1/openapi.json".into()) });
    every_request(surfaces, state)
}

/// The 1Password Connect-compatible API, served on a listener of its own (its `/v1/vaults`
/// and `/health` would collide with the native API's).
pub fn connect_app(state: AppState) -> Router {
    use tower::ServiceExt as _;
    // Paths are normalised before routing: a layer on the router would run after it.
    let routed = crate::connect::router().with_state(state.clone()).map_request(crate::connect::normalize_path);
    every_request(Router::new().fallback_service(routed), state)
        .layer(axum::middleware::map_response(crate::connect::connect_errors))
}

/// The layers every request passes, whatever the surface and listener. They wrap the composed
/// router as one stack rather than through `Router::layer`, which boxes every route once per
/// layer and clones each box on every request: one box is cloned per request instead of six
/// (between hyper and the handler, reads at concurrency 16 spent 11% of the server's CPU before,
/// 8% after: docs/benchmarks.md).
fn every_request(surfaces: Router<AppState>, state: AppState) -> Router {
    let stack = tower::ServiceBuilder::new()
        // Method and path only: a query string can carry a credential (an enrollment's poll
        // token), and nothing secret may reach a log line, whatever the level.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::debug_span!("request", method = %req.method(), path = %crate::native::extract::loggable_path(req.uri().path()))
        }))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError::Internal("handler panicked".into()).into_response()
        }))
        // No answer of any surface may be kept by a cache: most carry secrets or their metadata.
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(axum::middleware::from_fn(no_head))
        .layer(axum::middleware::from_fn(crate::unread_body::read_body_first))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .service(surfaces.with_state(state));
    Router::new().fallback_service(stack)
}

/// The native API (`/v1/...`) with its OpenAPI document, its problem documents for axum's
/// own rejections, and JSON as the content type of its answers.
fn native_surface() -> Router<AppState> {
    let (router, _) = native::router().split_for_parts();
    let doc = Arc::new(openapi().to_json().unwrap_or_else(|_| "{}".to_owned()));
    router
        .route(
            "/v1/openapi.json",
            get(move || {
                let doc = Arc::clone(&doc);
                async move { ([(header::CONTENT_TYPE, "application/json")], doc.as_str().to_owned()) }
            }),
        )
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::map_response(problems_for_rejections))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_TYPE, json_by_default))
}

/// Paths that answer `HEAD` (probes).
const HEAD_ALLOWED: &[&str] = &["/v1/health", "/v1/health/ready"];

/// axum runs the `GET` handler for a `HEAD`: on a share or a read-limited secret that would
/// spend an opening on a request that shows nothing (and `Content-Length` would tell the
/// value's length). Only the health probes answer `HEAD`.
async fn no_head(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    // The proxy forwards a `HEAD` as a `HEAD`.
    if req.method() == axum::http::Method::HEAD && !HEAD_ALLOWED.contains(&path) && !path.starts_with("/proxy/") {
        return ApiError::MethodNotAllowed.into_response();
    }
    next.run(req).await
}

/// axum's own rejections (a path segment that is not valid UTF-8, a query string that does
/// not parse) are plain text; every error of this API is a problem document.
async fn problems_for_rejections(resp: Response) -> Response {
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !resp.status().is_client_error() || !plain {
        return resp;
    }
    let status = resp.status();
    let text = axum::body::to_bytes(resp.into_body(), REJECTION_TEXT_LIMIT).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&text);
    crate::error::problem(status, detail.trim())
}

/// Longer rejection texts are not expected; a longer one is replaced by an empty detail.
const REJECTION_TEXT_LIMIT: usize = 4096;

/// The native API answers JSON: a 200 whose handler set no content type gets it. (A header
/// layer, not a middleware: nothing boxed on the hot path.)
fn json_by_default(resp: &Response) -> Option<HeaderValue> {
    (resp.status() == StatusCode::OK).then(|| HeaderValue::from_static("application/json"))
}
