//! The 1Password Connect-compatible API, on a listener of its own: the subset 1Password's
//! Connect SDKs and ESO's `onepassword` provider call, so that platforms whose "Secret
//! Providers" page knows only 1Password work against clawvault unchanged. A thin adapter:
//! every rule is the service layer's; the mapping of items onto secrets is in [`item`].
//!
//! Clients join paths differently (the JavaScript SDK adds trailing slashes, the Go SDK
//! appends `/v1/...` to a host that may end in `/`), so every path is normalised before it
//! is routed: repeated slashes collapse and a trailing one is dropped.

mod auth;
mod files;
mod filter;
mod health;
mod ids;
mod item;
mod items;
mod reply;
mod vaults;

use axum::Router;
use axum::extract::Request;
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

pub use reply::connect_errors;

/// The Connect API's routes (paths as normalised by [`normalize_path`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/heartbeat", get(health::heartbeat))
        .route("/health", get(health::health))
        .route("/v1/vaults", get(vaults::list))
        .route("/v1/vaults/{vault}", get(vaults::get))
        .route("/v1/vaults/{vault}/items", get(items::list).post(items::create))
        .route(
            "/v1/vaults/{vault}/items/{item}",
            get(items::get).put(items::replace).delete(items::delete).patch(health::no_patch),
        )
        .route("/v1/vaults/{vault}/items/{item}/files", get(files::list))
        .route("/v1/vaults/{vault}/items/{item}/files/{file}", get(files::get))
        .route("/v1/vaults/{vault}/items/{item}/files/{file}/content", get(files::content))
        .fallback(|| async {
            reply::error(
                StatusCode::NOT_FOUND,
                "no such endpoint: this is clawvault's 1Password Connect API (/v1/vaults, /v1/vaults/{id}/items, /heartbeat, /health)",
            )
        })
        .method_not_allowed_fallback(|| async {
            reply::error(StatusCode::METHOD_NOT_ALLOWED, "this method is not offered on this path")
        })
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::HeaderName::from_static(reply::VERSION_HEADER),
            HeaderValue::from_static(reply::CONNECT_VERSION),
        ))
}

/// A vault named in a path: a Connect id stands for a clawvault vault id; anything else is
/// taken as a vault's name (the JavaScript SDK's `listItems` puts a title there as it is).
fn vault_ref(raw: &str) -> String {
    ids::decode(raw).map_or_else(|| raw.to_owned(), |id| id.to_string())
}

/// Collapses repeated slashes and drops a trailing one, before routing.
pub fn normalize_path(mut req: Request) -> Request {
    let path = req.uri().path();
    if !(path.contains("//") || (path.len() > 1 && path.ends_with('/'))) {
        return req;
    }
    let mut clean: String = path.split('/').filter(|s| !s.is_empty()).flat_map(|s| ["/", s]).collect();
    if clean.is_empty() {
        clean.push('/');
    }
    if let Some(q) = req.uri().query() {
        clean.push('?');
        clean.push_str(q);
    }
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = PathAndQuery::try_from(clean) {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(uri: &str) -> String {
        let req = Request::builder().uri(uri).body(axum::body::Body::empty()).unwrap();
        normalize_path(req).uri().to_string()
    }

    #[test]
    fn paths_as_every_sdk_joins_them_route_alike() {
        assert_eq!(normalized("/v1/vaults/"), "/v1/vaults");
        assert_eq!(normalized("//v1/vaults"), "/v1/vaults");
        assert_eq!(
            normalized("/v1/vaults/abc/items/?filter=title%20eq%20%22x%22"),
            "/v1/vaults/abc/items?filter=title%20eq%20%22x%22"
        );
        assert_eq!(normalized("/v1/vaults"), "/v1/vaults");
        assert_eq!(normalized("/"), "/");
        assert_eq!(normalized("//"), "/");
    }
}
