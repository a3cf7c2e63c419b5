//! `X-Vault-Namespace`: clawvault has no Vault namespaces, so a request naming one (other
//! than the root) is answered as Vault answers a namespace that does not exist, rather than
//! served from the root as if the client had not asked.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use super::reply;

/// The header the CLI, hvac and ESO send a namespace in.
const HEADER: &str = "x-vault-namespace";

/// Refuses requests that name a namespace other than the root.
pub async fn only_root(request: Request, next: Next) -> Response {
    if let Some(value) = request.headers().get(HEADER) {
        let named = value.to_str().unwrap_or("?").trim().trim_matches('/');
        if !named.is_empty() && named != "root" {
            return reply::errors(axum::http::StatusCode::NOT_FOUND, &["namespace not found"]);
        }
    }
    next.run(request).await
}
