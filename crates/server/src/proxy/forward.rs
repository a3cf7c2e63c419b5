//! Forwarding an admitted call: the upstream URL with the route's values in place, the
//! caller's headers without its credentials and hop-by-hop ones, the body streamed within the
//! route's size and silence limits; then the answer streamed back, scrubbed, and the call
//! audited and counted when the answer ends (or the caller leaves).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt as _;
use percent_encoding::percent_decode_str;
use zeroize::Zeroizing;

use super::reply;
use crate::budgets::Slot;
use crate::caches::routes::Filled;
use crate::error::ApiError;
use crate::idle::Held;
use crate::outbound::{self, Ended, OutboundError, Scrubbed};
use crate::service::proxy::{self, Admitted, CallEnd, CallFacts};
use crate::state::AppState;

/// The caller's request, less what the service layer took from it.
pub struct Outgoing {
    /// Method.
    pub method: Method,
    /// Headers as sent.
    pub headers: HeaderMap,
    /// Body.
    pub body: Body,
    /// The path after the route (and the credential's segment).
    pub path: String,
    /// The raw query.
    pub query: Option<String>,
    /// A query parameter that carried the caller's credential.
    pub drop_param: Option<String>,
}

/// Sends `out` as `admitted` says and answers with what comes back.
pub async fn forward(state: AppState, admitted: Admitted, out: Outgoing, held: Option<Held>) -> Response {
    let Admitted { route, prepared, slot, facts } = admitted;
    let (filled, redactor) = (&prepared.filled, &prepared.redactor);
    let spec = &route.spec;
    let idle = Duration::from_secs(spec.timeouts.idle_seconds);
    let answer_timeout = Duration::from_secs(spec.timeouts.answer_seconds);
    let sent = Arc::new(AtomicU64::new(0));
    let over = Arc::new(AtomicBool::new(false));
    // From here on the call is audited however it ends, also when the caller leaves first.
    let mut call = Ending {
        state,
        facts: Some(facts),
        slot: Some(slot),
        status: 0,
        sent: Arc::clone(&sent),
        counted: 0,
        _held: held,
    };

    let url = upstream_url(&route, filled, &out);
    let replaced: Vec<_> = filled.headers.iter().map(|(n, _)| n.clone()).collect();
    let mut headers = outbound::forwardable(&out.headers, &replaced);
    for (name, value) in &filled.headers {
        headers.insert(name.clone(), value.clone());
    }
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    let body = request_body(out.body, spec.limits.max_request_bytes, idle, Arc::clone(&sent), Arc::clone(&over));
    let method_was_head = out.method == axum::http::Method::HEAD;
    let request = match route.client.request(out.method, url.as_str()).headers(headers).body(body).build() {
        Ok(r) => r,
        Err(e) => {
            let e = OutboundError::from_reqwest(e, answer_timeout);
            let message = redactor.redact_str(&e.to_string());
            return call.failed(StatusCode::BAD_GATEWAY, message);
        }
    };
    drop(url);
    let resp = match tokio::time::timeout(answer_timeout, route.client.execute(request)).await {
        Err(_) => {
            let message = OutboundError::Timeout(answer_timeout.as_secs()).to_string();
            return call.failed(StatusCode::GATEWAY_TIMEOUT, message);
        }
        Ok(Err(_)) if over.load(Ordering::Acquire) => {
            let message =
                ApiError::PayloadTooLarge(usize::try_from(spec.limits.max_request_bytes).unwrap_or(usize::MAX));
            return call.failed(StatusCode::PAYLOAD_TOO_LARGE, message.to_string());
        }
        Ok(Err(e)) => {
            let e = OutboundError::from_reqwest(e, answer_timeout);
            let status = if matches!(e, OutboundError::Timeout(_)) {
                StatusCode::GATEWAY_TIMEOUT
            } else {
                StatusCode::BAD_GATEWAY
            };
            let message = redactor.redact_str(&e.to_string());
            return call.failed(status, message);
        }
        Ok(Ok(resp)) => resp,
    };
    let status = resp.status();
    call.status = status.as_u16();
    // An answer without a body (to a HEAD, a 204 or a 304) ends here; its body is never read.
    let bodiless = method_was_head || matches!(status.as_u16(), 204 | 304);
    let headers = outbound::answer_headers(resp.headers(), redactor);
    let scrubbed = match Scrubbed::new(resp, Arc::clone(redactor), spec.limits.max_response_bytes, idle) {
        Ok(s) => s,
        Err(e) => return call.failed(StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let mut response = if bodiless {
        call.end(0, "complete", None);
        Response::new(Body::empty())
    } else {
        Response::new(Body::from_stream(answer(Tracked { scrubbed, call, spent: false })))
    };
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The upstream URL: base, the route's segment, the caller's path, and the caller's query with
/// the route's parameters set (and the one that carried the caller's credential dropped).
fn upstream_url(route: &crate::caches::routes::LoadedRoute, filled: &Filled, out: &Outgoing) -> Zeroizing<String> {
    let up = &route.upstream;
    let mut url = Zeroizing::new(format!("{}://{}:{}{}", up.scheme, up.host, up.port, up.base_path));
    if let Some(segment) = &filled.segment {
        url.push('/');
        url.push_str(segment);
    }
    url.push_str(&out.path);
    let dropped = |raw_name: &str| {
        let name = percent_decode_str(&raw_name.replace('+', " ")).decode_utf8_lossy().into_owned();
        filled.query.iter().any(|(n, _)| *n == name) || out.drop_param.as_deref() == Some(name.as_str())
    };
    let mut first = true;
    let mut append = |url: &mut String, pair: &str| {
        url.push(if first { '?' } else { '&' });
        url.push_str(pair);
        first = false;
    };
    for pair in out.query.as_deref().unwrap_or_default().split('&') {
        if !pair.is_empty() && !dropped(pair.split('=').next().unwrap_or_default()) {
            append(&mut url, pair);
        }
    }
    for (name, value) in &filled.query {
        let name: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
        append(&mut url, &format!("{name}={}", value.as_str()));
    }
    url
}

/// The caller's body as a stream upstream: at most `limit` bytes (past it, `over` is set and
/// the request fails), no silence longer than `idle`, bytes counted in `sent`.
fn request_body(body: Body, limit: u64, idle: Duration, sent: Arc<AtomicU64>, over: Arc<AtomicBool>) -> reqwest::Body {
    use axum::body::HttpBody as _;
    if body.is_end_stream() {
        return reqwest::Body::from(Vec::new());
    }
    let chunks = futures_util::stream::unfold(Some(body.into_data_stream()), move |state| {
        let (sent, over) = (Arc::clone(&sent), Arc::clone(&over));
        async move {
            let mut stream = state?;
            match tokio::time::timeout(idle, stream.next()).await {
                Err(_) => Some((Err(io::Error::new(io::ErrorKind::TimedOut, "the request body went silent")), None)),
                Ok(None) => None,
                Ok(Some(Err(e))) => Some((Err(io::Error::other(e)), None)),
                Ok(Some(Ok(chunk))) => {
                    let total = sent.fetch_add(chunk.len() as u64, Ordering::AcqRel) + chunk.len() as u64;
                    if total > limit {
                        over.store(true, Ordering::Release);
                        return Some((Err(io::Error::other("the request body is over the route's limit")), None));
                    }
                    Some((Ok::<Bytes, io::Error>(chunk), Some(stream)))
                }
            }
        }
    });
    reqwest::Body::wrap_stream(chunks)
}

/// What the end of a call needs: it is audited and counted once, by whichever way it ends
/// first (an answer, a failure, or the caller leaving, which drops it).
struct Ending {
    state: AppState,
    facts: Option<CallFacts>,
    slot: Option<Slot>,
    /// The upstream's status (0 until it answered).
    status: u16,
    sent: Arc<AtomicU64>,
    /// Answer bytes counted against the budget so far.
    counted: u64,
    _held: Option<Held>,
}

impl Ending {
    /// Counts the answer bytes read since the last count (`read` in all); `false` once the
    /// day's budget of them is spent.
    fn count(&mut self, read: u64) -> bool {
        let new = read.saturating_sub(self.counted);
        self.counted = read;
        self.slot.as_ref().is_none_or(|slot| slot.answered(new))
    }

    /// Counts `read` answer bytes, frees the budget's slot, and audits the call in the
    /// background (the caller does not wait for the disk).
    fn end(&mut self, read: u64, ended: &'static str, error: Option<ApiError>) {
        if self.facts.is_none() {
            return;
        }
        self.count(read);
        self.slot = None;
        let Some(facts) = self.facts.take() else { return };
        let end = CallEnd {
            // A caller that left before any answer is recorded as nginx records it: 499.
            status: if self.status == 0 { 499 } else { self.status },
            request_bytes: self.sent.load(Ordering::Acquire),
            response_bytes: read,
            ended,
            error,
        };
        let state = self.state.clone();
        self.state.background.spawn(async move { proxy::finish(&state, facts, end).await });
    }

    /// Answers a call the upstream did not answer, and audits it.
    fn failed(mut self, status: StatusCode, message: String) -> Response {
        self.status = status.as_u16();
        self.end(0, "failed", Some(ApiError::Unavailable(message.clone())));
        reply::error(status, &message)
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        self.end(0, "caller_left", None);
    }
}

/// The answer body and what ends the call.
struct Tracked {
    scrubbed: Scrubbed,
    call: Ending,
    /// The day's answer-byte budget ran out midway.
    spent: bool,
}

impl Drop for Tracked {
    /// The caller left before the answer ended: the call is still audited and counted.
    fn drop(&mut self) {
        let read = self.scrubbed.read();
        self.call.end(read, "caller_left", None);
    }
}

/// The scrubbed chunks; at their end the call is audited, and an answer that did not end
/// whole ends in an error, so the caller's client sees it broken off rather than complete.
fn answer(tracked: Tracked) -> impl futures_util::Stream<Item = Result<Bytes, io::Error>> + Send {
    futures_util::stream::unfold(tracked, |mut t| async move {
        t.call.facts.as_ref()?;
        if !t.spent
            && let Some(chunk) = t.scrubbed.next().await
        {
            t.spent = !t.call.count(t.scrubbed.read());
            return Some((Ok(chunk), t));
        }
        let (name, error) = match t.scrubbed.ended() {
            _ if t.spent => {
                ("budget", Some("this identity's answer bytes for the day on this route are spent; the answer was cut"))
            }
            Some(Ended::Complete) | None => ("complete", None),
            Some(Ended::Cut) => ("cut", Some("the answer is over the route's size limit and was cut")),
            Some(Ended::Idle) => ("idle", Some("the upstream went silent and the answer was cut")),
            Some(Ended::Failed) => ("failed", Some("the upstream broke the answer off")),
        };
        let read = t.scrubbed.read();
        t.call.end(read, name, error.map(|m| ApiError::Unavailable(m.into())));
        let m = error?;
        // Once more through the connection's loop first, so that the chunks before the error
        // are flushed to the caller rather than dropped with the connection.
        tokio::task::yield_now().await;
        Some((Err(io::Error::other(m)), t))
    })
}
