//! An upstream's answer body as it goes back: every value the request carried, in each of
//! its encoded forms, replaced as the chunks pass (also across chunk boundaries), cut at a
//! size limit, ended by a silence longer than the idle limit. An encoded (compressed) body is
//! refused before a byte of it is read: a value in it could not be found.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use clawvault_core::redact::{RedactStream, Redactor};
use futures_util::Stream;
use reqwest::header::{CONTENT_ENCODING, HeaderMap, TRANSFER_ENCODING};
use tokio::time::{Instant, Sleep};

use super::OutboundError;

/// How a scrubbed body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The upstream finished it.
    Complete,
    /// It reached the size limit; the rest was not read, and what the redaction still held
    /// back (a value could be starting there) was dropped.
    Cut,
    /// The upstream sent nothing for the idle limit.
    Idle,
    /// The exchange failed midway.
    Failed,
}

type Chunks = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A scrubbed answer body: a stream of redacted chunks that ends (without an error) however
/// the upstream's body ended; [`Scrubbed::ended`] says how.
pub struct Scrubbed {
    inner: Chunks,
    /// Taken when the body ends, to let out what it held back.
    redact: Option<RedactStream<Arc<Redactor>>>,
    limit: u64,
    read: u64,
    idle: Duration,
    silence: Pin<Box<Sleep>>,
    ended: Option<Ended>,
}

impl std::fmt::Debug for Scrubbed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubbed").field("read", &self.read).field("ended", &self.ended).finish_non_exhaustive()
    }
}

impl Scrubbed {
    /// The body of `resp`, scrubbed by `redactor`, at most `limit` bytes, ending after `idle`
    /// without a byte.
    ///
    /// # Errors
    /// [`OutboundError::Encoded`] for a compressed body.
    pub fn new(
        resp: reqwest::Response,
        redactor: Arc<Redactor>,
        limit: u64,
        idle: Duration,
    ) -> Result<Self, OutboundError> {
        if encoded(resp.headers()) {
            return Err(OutboundError::Encoded);
        }
        Ok(Self {
            inner: Box::pin(resp.bytes_stream()),
            redact: Some(redactor.shared_stream()),
            limit,
            read: 0,
            idle,
            silence: Box::pin(tokio::time::sleep(idle)),
            ended: None,
        })
    }

    /// How the body ended (`None` while it goes on).
    #[must_use]
    pub fn ended(&self) -> Option<Ended> {
        self.ended
    }

    /// Bytes read from the upstream.
    #[must_use]
    pub fn read(&self) -> u64 {
        self.read
    }

    fn out(bytes: Vec<u8>) -> Option<Bytes> {
        (!bytes.is_empty()).then(|| Bytes::from(bytes))
    }
}

/// Whether headers announce an encoding other than `identity`, or a transfer coding other
/// than `chunked` (which the client takes off; a `gzip` one it leaves on).
fn encoded(headers: &HeaderMap) -> bool {
    let content = headers.get_all(CONTENT_ENCODING).iter().any(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    let transfer = headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .any(|t| !t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
    content || transfer
}

impl Stream for Scrubbed {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = &mut *self;
        loop {
            if this.ended.is_some() {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.silence.as_mut().reset(Instant::now() + this.idle);
                    let room = this.limit - this.read;
                    let (take, cut) = if chunk.len() as u64 > room {
                        (usize::try_from(room).unwrap_or(usize::MAX), true)
                    } else {
                        (chunk.len(), false)
                    };
                    this.read += take as u64;
                    let redacted = this.redact.as_mut().map(|r| r.push(&chunk[..take])).unwrap_or_default();
                    if cut {
                        this.ended = Some(Ended::Cut);
                    }
                    if let Some(bytes) = Self::out(redacted) {
                        return Poll::Ready(Some(bytes));
                    }
                }
                Poll::Ready(Some(Err(_))) => this.ended = Some(Ended::Failed),
                Poll::Ready(None) => {
                    this.ended = Some(Ended::Complete);
                    let rest = this.redact.take().map(RedactStream::finish).unwrap_or_default();
                    return Poll::Ready(Self::out(rest));
                }
                Poll::Pending => {
                    if this.silence.as_mut().poll(cx).is_ready() {
                        this.ended = Some(Ended::Idle);
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// A whole answer, scrubbed.
pub struct Collected {
    /// Status code.
    pub status: u16,
    /// Headers (not scrubbed: see [`super::answer_headers`]).
    pub headers: HeaderMap,
    /// Body, at most the limit asked for, scrubbed.
    pub body: Vec<u8>,
    /// Whether the body was longer.
    pub truncated: bool,
}

/// Reads `resp`'s body whole (at most `max` bytes), scrubbed by `redactor`.
///
/// # Errors
/// [`OutboundError::Encoded`], or the exchange failing or going silent for `timeout`.
pub async fn collect(
    resp: reqwest::Response,
    redactor: Arc<Redactor>,
    max: usize,
    timeout: Duration,
) -> Result<Collected, OutboundError> {
    use futures_util::StreamExt as _;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut body = Scrubbed::new(resp, redactor, max as u64, timeout)?;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk);
    }
    match body.ended() {
        Some(Ended::Idle) => Err(OutboundError::Timeout(timeout.as_secs())),
        Some(Ended::Failed) => Err(OutboundError::Exchange("the answer's body broke off".into())),
        ended => Ok(Collected { status, headers, body: out, truncated: ended == Some(Ended::Cut) }),
    }
}
