//! No answer races its request's body. A handler may answer without reading the body (a 401
//! from authentication comes before it); hyper then closes the connection, as it cannot know
//! where the next request starts, and closing a socket whose receive buffer still holds bytes
//! (the body, sent by the client in a write of its own, arriving after the answer was decided)
//! makes the kernel reset the connection, which throws away the answer on its way: the client
//! saw "server disconnected without sending a response" (the MCP SDK's OAuth flow, whose first
//! request is refused with a 401, under load).
//!
//! So a small body (a length given, at most [`READ_FIRST`]) is read before the request is
//! handled, within the body's deadline: every API request's body is that small. A larger or
//! chunked one is streamed to its handler as it comes, and an answer given before it was read
//! to its end says `Connection: close`, so that at least no client sends its next request on
//! a connection about to close.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt as _;

use crate::error::ApiError;
use crate::serve::BodyDeadline;

/// Bodies of at most this many bytes (by their `Content-Length`) are read before the handler
/// runs.
pub(crate) const READ_FIRST: u64 = 64 * 1024;

/// A request body that records whether it was read to its end.
struct Watched {
    inner: Body,
    ended: Arc<AtomicBool>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.ended.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Reads a small body before the request is handled; marks the answer to a larger one
/// `Connection: close` if it was not read to its end. Requests without a body, and HTTP/2
/// (where each request is a stream of its own), pass untouched.
pub(crate) async fn read_body_first(req: Request, next: Next) -> Response {
    if http_body::Body::is_end_stream(req.body()) || req.version() >= Version::HTTP_2 {
        return next.run(req).await;
    }
    let small = http_body::Body::size_hint(req.body()).exact().is_some_and(|n| n <= READ_FIRST);
    if small {
        let deadline = req.extensions().get::<BodyDeadline>().map_or(crate::json::DEFAULT_BODY_DEADLINE, |d| d.0);
        let (parts, body) = req.into_parts();
        let read = match tokio::time::timeout(deadline, body.collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(_)) => return closing(ApiError::BadRequest("could not read the request body".to_owned())),
            Err(_) => {
                return closing(ApiError::RequestTimeout(format!(
                    "the request body did not arrive within {} s",
                    deadline.as_secs()
                )));
            }
        };
        return next.run(Request::from_parts(parts, Body::from(read))).await;
    }
    let ended = Arc::new(AtomicBool::new(false));
    let watched = Arc::clone(&ended);
    let req = req.map(|inner| Body::new(Watched { inner, ended: watched }));
    let mut resp = next.run(req).await;
    if !ended.load(Ordering::Acquire) {
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// An error for a body that could not be read: the connection closes after it.
fn closing(e: ApiError) -> Response {
    let mut resp = e.into_response();
    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}
