//! The credential-injecting proxy: `/proxy/<route>/…`. A stock SDK sets its base URL here and
//! sends the agent's key or token where it would send the provider's key; the proxy finds it
//! ([`credential`]), lets the service layer admit the call (`use` on the route's secrets, the
//! budget) and fill the real values in, forwards ([`forward`]) and streams the answer back
//! scrubbed of every echo of them.

mod credential;
mod forward;
mod reply;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::response::Response;
use axum::routing::any;

use crate::caches::routes::Entry;
use crate::idle::IdleHold;
use crate::native::extract::ClientIp;
use crate::service::authenticate;
use crate::service::proxy::{self, CallRequest};
use crate::state::AppState;

/// The proxy's routes.
pub fn router() -> Router<AppState> {
    // One catch-all: `/proxy/NAME`, `/proxy/NAME/` and `/proxy/NAME/any/path` alike (the handler
    // takes the raw path apart itself, without decoding it).
    Router::new().route("/proxy/{*rest}", any(call))
}

async fn call(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    // Held until the answer's last byte: a model may think for minutes before answering, and
    // the route's own deadlines bound the wait.
    let held = parts.extensions.get::<IdleHold>().map(IdleHold::hold);
    let ClientIp(ip) = ClientIp::from_request_parts(&mut parts, &state).await.unwrap_or(ClientIp(None));
    let raw = parts.uri.path().strip_prefix("/proxy/").unwrap_or_default();
    let (name, rest) = raw.find('/').map_or((raw, "/"), |at| (&raw[..at], &raw[at..]));
    let entry = state.routes.get(name);
    let route = match &entry {
        Some(Entry::Ready(r)) => Some(r.as_ref()),
        _ => None,
    };
    let query = parts.uri.query();
    // The context of a refusal names the route only: the path may carry a credential.
    let context = format!("proxy:{}", name.chars().take(64).collect::<String>());
    let Some(found) = credential::find(route, &parts.headers, rest, query) else {
        let e = crate::error::ApiError::Unauthorized(
            "send the agent's key or an access token where the provider's key goes (Authorization: Bearer, x-api-key, or the route's path segment)"
                .into(),
        );
        return reply::refusal(&authenticate::refused(&state, ip, &context, e).await);
    };
    let caller = match authenticate::caller(&state, &found.credential, ip, &context).await {
        Ok(c) => c,
        Err(e) => return reply::refusal(&e),
    };
    let content_length = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let request = CallRequest { route: name, method: parts.method.as_str(), path: &found.path, content_length };
    let admitted = match proxy::admit(&state, &caller, &request).await {
        Ok(a) => a,
        Err(e) => return reply::refusal(&e),
    };
    let outgoing = forward::Outgoing {
        method: parts.method.clone(),
        headers: parts.headers,
        body,
        path: found.path,
        query: query.map(str::to_owned),
        drop_param: found.query_param,
    };
    forward::forward(state, admitted, outgoing, held).await
}
