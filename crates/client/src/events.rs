//! `GET /v1/events` as a typed stream: the secret events the identity may list, resumable
//! after the last one received.

use std::pin::Pin;

use futures_util::{Stream, StreamExt as _};
use serde::Deserialize;
use sse_stream::{Sse, SseStream};
use uuid::Uuid;

use crate::{Client, ClientError, encode_segment};

/// A secret event: what happened at which path (never a value).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SecretEvent {
    /// Its number: pass the last one received to [`Client::events`] to resume after it.
    pub seq: i64,
    /// `written`, `rotated`, `deleted`, `restored`, `disabled`, `enabled` or `destroyed`.
    pub kind: String,
    /// The vault's id.
    pub vault_id: Uuid,
    /// The vault's name.
    pub vault: String,
    /// The secret's path.
    pub path: String,
    /// The version concerned.
    pub version: i64,
    /// When it was committed (RFC 3339).
    pub at: String,
}

/// What a stream delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A secret event.
    Secret(SecretEvent),
    /// Events after `after` were pruned before the stream resumed: read current versions
    /// again.
    Reset {
        /// The number the stream resumed after.
        after: i64,
    },
    /// The server ended the stream (the credential no longer stands, the server stops).
    End {
        /// Why.
        message: String,
    },
}

#[derive(Deserialize)]
struct Reset {
    after: i64,
}

#[derive(Deserialize)]
struct End {
    message: String,
}

/// An open event stream.
pub struct EventStream {
    inner: Pin<Box<dyn Stream<Item = Result<Sse, sse_stream::Error>> + Send>>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl EventStream {
    /// The next delivery; `None` once the connection closed (reconnect with the last number
    /// received).
    pub async fn next(&mut self) -> Option<Result<StreamEvent, ClientError>> {
        loop {
            let sse = match self.inner.next().await? {
                Ok(sse) => sse,
                Err(e) => return Some(Err(ClientError::Decode(format!("the event stream broke: {e}")))),
            };
            let data = sse.data.unwrap_or_default();
            let decode = |e: serde_json::Error| ClientError::Decode(format!("unexpected event from the server: {e}"));
            let delivered = match sse.event.as_deref() {
                Some(name) if name.starts_with("secret.") => serde_json::from_str(&data).map(StreamEvent::Secret),
                Some("reset") => serde_json::from_str::<Reset>(&data).map(|r| StreamEvent::Reset { after: r.after }),
                Some("end") => serde_json::from_str::<End>(&data).map(|e| StreamEvent::End { message: e.message }),
                // Keep-alive comments and kinds this client does not know.
                _ => continue,
            };
            return Some(delivered.map_err(decode));
        }
    }
}

impl Client {
    /// Opens `GET /v1/events`: every secret event the identity may list (of `vault` only,
    /// when given), after `last_event_id` when resuming, otherwise from now.
    ///
    /// # Errors
    /// The server refused the stream or cannot be reached.
    pub async fn events(&self, vault: Option<&str>, last_event_id: Option<i64>) -> Result<EventStream, ClientError> {
        let token = self.token().await?;
        let mut url = format!("{}/v1/events", self.base);
        if let Some(v) = vault {
            url.push_str(&format!("?vault={}", encode_segment(v)));
        }
        let mut req = self.stream_http.get(url).bearer_auth(token.as_str()).header("accept", "text/event-stream");
        if let Some(n) = last_event_id {
            req = req.header("last-event-id", n.to_string());
        }
        let resp = req.send().await.map_err(|e| ClientError::unreachable(&self.base, &e))?;
        let status = resp.status();
        if !status.is_success() {
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(ClientError::from_response(status.as_u16(), &headers, &bytes));
        }
        Ok(EventStream { inner: Box::pin(SseStream::from_bytes_stream(resp.bytes_stream())) })
    }
}
