//! The router: every API surface, the OpenAPI document, and the layers every request passes
//! (body limit, no-store caching, panic containment, tracing).

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
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
    doc
}

/// The whole application for `state`; tests drive exactly what production serves.
pub fn app(state: AppState) -> Router {
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
        .fallback(|| async { ApiError::NotFound("no such endpoint: see /v1/openapi.json".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(no_store))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError::Internal("handler panicked".into()).into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if resp.status() == StatusCode::OK && !resp.headers().contains_key(header::CONTENT_TYPE) {
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    resp
}
