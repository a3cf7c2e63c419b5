//! `GET /v1/events`: server-sent events of the secrets the caller may list (written, rotated,
//! deleted, restored, disabled, enabled, destroyed; vault, path and version, never a value),
//! resumable with `Last-Event-ID`, with keep-alive comments while idle.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use clawvault_core::time_util::rfc3339;
use futures_util::Stream;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::service::events::{self, Delivery, Subscription};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// Which events a stream carries.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only this vault's events (name or id).
    vault: Option<String>,
    /// Resume after this event (for clients that cannot send the `Last-Event-ID` header).
    last_event_id: Option<i64>,
}

fn last_event_id(headers: &HeaderMap, q: &EventsQuery) -> ApiResult<Option<i64>> {
    match headers.get("last-event-id") {
        Some(v) => v.to_str().ok().and_then(|t| t.trim().parse().ok()).map(Some).ok_or_else(|| ApiError::Invalid {
            field: "Last-Event-ID",
            problem: "must be the number of the last event received".into(),
        }),
        None => Ok(q.last_event_id),
    }
}

fn render(delivery: Delivery) -> Event {
    match delivery {
        Delivery::Event(e) => Event::default().id(e.seq.to_string()).event(format!("secret.{}", e.kind.as_str())).data(
            json!({
                "seq": e.seq,
                "kind": e.kind.as_str(),
                "vault_id": e.vault_id,
                "vault": e.vault,
                "path": e.path,
                "version": e.version,
                "at": rfc3339(e.at),
            })
            .to_string(),
        ),
        Delivery::Reset { after } => Event::default().event("reset").data(
            json!({
                "after": after,
                "message": "events after this one were pruned before the stream resumed: read the current versions again",
            })
            .to_string(),
        ),
    }
}

/// The stream ends, with an `end` event saying why, when the caller no longer stands.
fn deliveries(sub: Subscription) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(Some(sub), |sub| async move {
        let mut sub = sub?;
        match sub.next().await {
            Ok(d) => Some((Ok(render(d)), Some(sub))),
            Err(e) => {
                Some((Ok(Event::default().event("end").data(json!({"message": e.to_string()}).to_string())), None))
            }
        }
    })
}

/// Server-sent events of the secrets the caller may list (`secret.written`, `secret.rotated`,
/// `secret.deleted`, `secret.restored`, `secret.disabled`, `secret.enabled`,
/// `secret.destroyed`), each with its number as `id`; a stream resumed with `Last-Event-ID`
/// replays what it missed (or sends `reset` when that was pruned).
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventsQuery),
    responses((status = 200, content_type = "text/event-stream", description = "the event stream"),
              (status = 401, body = crate::error::ProblemDoc), (status = 403, body = crate::error::ProblemDoc)))]
async fn stream(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let after = last_event_id(&headers, &q)?;
    let sub = events::subscribe(&state, &caller, q.vault.as_deref(), after).await?;
    let beat = Duration::from_secs(state.config.events_heartbeat_seconds);
    Ok(Sse::new(deliveries(sub)).keep_alive(KeepAlive::new().interval(beat).text("keep-alive")))
}
