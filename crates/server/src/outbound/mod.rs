//! Requests clawvault sends on a caller's behalf — MCP's `http_request` and the proxy's calls —
//! through one machinery: TLS on the system's roots plus a configured CA, HTTP/1.1 or HTTP/2 as
//! the upstream offers, no proxy from the environment, no redirect followed, connections only
//! to addresses that were checked (pinned to one, or public ones only), the caller's
//! hop-by-hop and credential headers dropped, and every answer scrubbed of the values the
//! request carried, as it streams.

mod headers;
mod resolve;
mod scrub;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use zeroize::Zeroizing;

pub use headers::{answer_headers, forwardable};
pub use scrub::{Collected, Ended, Scrubbed};

/// Pinned clients kept for reuse (their connections are pooled); the map is emptied when full.
const MAX_PINNED_CLIENTS: usize = 256;
/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// Where a client's connections may go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reach {
    /// Only this address, checked beforehand, whatever the name resolves to now.
    Pinned {
        /// The name the URL carries.
        host: String,
        /// The checked address.
        address: SocketAddr,
    },
    /// What the name resolves to, public addresses only (a name that resolves inside the
    /// network reaches nothing); an address written literally in the URL as written.
    Public,
    /// What the name resolves to, wherever that is: only for addresses the operator wrote in
    /// the configuration (a GitHub Enterprise Server on the inside network), never a caller's.
    Configured,
}

/// Why nothing (or nothing whole) came back. Never holds the URL, which may hold a value.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The request could not be built (an invalid URL or header after filling, TLS setup).
    #[error("the request cannot be sent: {0}")]
    Build(String),
    /// No answer in time.
    #[error("the upstream did not answer within {0} s")]
    Timeout(u64),
    /// No connection.
    #[error("cannot connect to the upstream")]
    Connect,
    /// The exchange failed midway.
    #[error("the exchange with the upstream failed: {0}")]
    Exchange(String),
    /// The upstream answered with a body that cannot be scrubbed.
    #[error(
        "the upstream answered with an encoded (compressed) body, which cannot be checked for the values it may echo, so it is not returned"
    )]
    Encoded,
}

impl OutboundError {
    /// The error of a failed exchange, without its URL.
    #[must_use]
    pub fn from_reqwest(e: reqwest::Error, timeout: Duration) -> Self {
        let e = e.without_url();
        if e.is_timeout() {
            Self::Timeout(timeout.as_secs())
        } else if e.is_connect() {
            Self::Connect
        } else if e.is_builder() {
            Self::Build(e.to_string())
        } else {
            Self::Exchange(e.to_string())
        }
    }
}

/// The clients of outbound requests, with the TLS settings they share.
#[derive(Debug)]
pub struct Clients {
    tls: tls::Tls,
    pinned: Mutex<HashMap<(Reach, u64), reqwest::Client>>,
}

impl Clients {
    /// Clients trusting the system's roots and, when given, the PEM certificates in `ca_file`.
    ///
    /// # Errors
    /// The file cannot be read or holds no certificate.
    pub fn new(ca_file: Option<&Path>) -> Result<Self, OutboundError> {
        Ok(Self { tls: tls::Tls::new(ca_file)?, pinned: Mutex::new(HashMap::new()) })
    }

    /// A client whose connections go where `reach` says, connecting within `connect_timeout`.
    /// Pinned clients are kept and reused (with their pooled connections).
    ///
    /// # Errors
    /// TLS or the client cannot be set up.
    pub fn client(&self, reach: &Reach, connect_timeout: Duration) -> Result<reqwest::Client, OutboundError> {
        let key = (reach.clone(), connect_timeout.as_millis().try_into().unwrap_or(u64::MAX));
        if matches!(reach, Reach::Pinned { .. })
            && let Some(c) = self.pinned.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key)
        {
            return Ok(c.clone());
        }
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(self.tls.config()?)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(POOL_IDLE)
            // The caller's request says what it accepts; reqwest adds nothing of its own.
            .referer(false);
        builder = match reach {
            Reach::Pinned { host, address } => builder.resolve(host, *address).dns_resolver(resolve::Nowhere),
            Reach::Public => builder.dns_resolver(resolve::PublicOnly),
            Reach::Configured => builder,
        };
        let client = builder.build().map_err(|e| OutboundError::Build(e.without_url().to_string()))?;
        if matches!(reach, Reach::Pinned { .. }) {
            let mut pinned = self.pinned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if pinned.len() >= MAX_PINNED_CLIENTS {
                pinned.clear();
            }
            pinned.insert(key, client.clone());
        }
        Ok(client)
    }
}

/// A request to send whole (MCP's `http_request`).
pub struct Outbound {
    /// Method.
    pub method: reqwest::Method,
    /// Where, with values filled in.
    pub url: Zeroizing<String>,
    /// Headers, with values filled in.
    pub headers: HeaderMap,
    /// Body, with values filled in.
    pub body: Zeroizing<Vec<u8>>,
    /// Deadline for the whole exchange.
    pub timeout: Duration,
    /// The host that was checked: the URL must name it.
    pub host: String,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").field("method", &self.method).field("host", &self.host).finish_non_exhaustive()
    }
}

/// Sends `out` with `client` and reads at most `max_body` bytes of its answer, scrubbed by
/// `redactor`.
///
/// # Errors
/// See [`OutboundError`].
pub async fn send(
    client: &reqwest::Client,
    out: Outbound,
    redactor: std::sync::Arc<clawvault_core::redact::Redactor>,
    max_body: usize,
) -> Result<Collected, OutboundError> {
    let url = reqwest::Url::parse(&out.url).map_err(|e| OutboundError::Build(e.to_string()))?;
    if url.host_str() != Some(out.host.as_str()) {
        return Err(OutboundError::Build("the URL names another host than the one checked".into()));
    }
    let request = client.request(out.method.clone(), url).headers(out.headers.clone()).body(out.body.to_vec());
    let exchange = async {
        let resp = request.send().await.map_err(|e| OutboundError::from_reqwest(e, out.timeout))?;
        scrub::collect(resp, redactor, max_body, out.timeout).await
    };
    tokio::time::timeout(out.timeout, exchange).await.map_err(|_| OutboundError::Timeout(out.timeout.as_secs()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server on 127.0.0.1 answering every connection with one empty 204.
    async fn loopback() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n").await;
            }
        });
        port
    }

    #[tokio::test]
    async fn a_configured_name_reaches_the_inside_and_a_callers_does_not() {
        let port = loopback().await;
        let clients = Clients::new(None).expect("clients");
        let url = format!("http://localhost:{port}/");
        let timeout = Duration::from_secs(5);
        let configured = clients.client(&Reach::Configured, timeout).expect("client").get(&url).send().await;
        assert_eq!(configured.expect("reached").status().as_u16(), 204);
        let public = clients.client(&Reach::Public, timeout).expect("client").get(&url).send().await;
        assert!(public.is_err(), "a name resolving to loopback reaches nothing for callers");
    }
}
