//! Requests clawvault sends on a caller's behalf (`http_request` now, the proxy later): to one
//! address checked beforehand (the connection is pinned to it, so a name that resolves
//! elsewhere the second time reaches nothing else), through no proxy from the environment,
//! without following redirects, within a deadline, reading at most a bounded answer.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::HeaderMap;
use zeroize::Zeroizing;

/// A request to send.
pub struct Outbound {
    /// Method.
    pub method: reqwest::Method,
    /// Where, with values filled in.
    pub url: Zeroizing<String>,
    /// Headers, with values filled in.
    pub headers: HeaderMap,
    /// Body, with values filled in.
    pub body: Zeroizing<Vec<u8>>,
    /// The address the URL's host was resolved to and checked at.
    pub address: SocketAddr,
    /// Deadline for the whole exchange.
    pub timeout: Duration,
    /// The host that was checked: the URL must name it.
    pub host: String,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").field("method", &self.method).field("address", &self.address).finish_non_exhaustive()
    }
}

/// What came back (its body may echo a value: no `Debug`).
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, at most the limit asked for.
    pub body: Vec<u8>,
    /// Whether the body was longer.
    pub truncated: bool,
}

/// Why nothing (or nothing whole) came back. Never holds the URL, which may hold a value.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The request could not be built (an invalid URL or header after filling).
    #[error("the request cannot be sent: {0}")]
    Build(String),
    /// No answer in time.
    #[error("the upstream did not answer within {0} s")]
    Timeout(u64),
    /// No connection.
    #[error("cannot connect to {0}")]
    Connect(SocketAddr),
    /// The exchange failed midway.
    #[error("the exchange with the upstream failed: {0}")]
    Exchange(String),
}

/// The TLS settings of every outbound request, built once per process: the platform verifier
/// reads and parses the system's root certificates when it is made, which costs milliseconds
/// of CPU, more than the rest of a call; reqwest would do it for every client it builds.
/// Only a config that was built is kept: a failure (roots unreadable for a moment) is tried
/// again on the next call.
fn tls() -> Result<rustls::ClientConfig, OutboundError> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    static TLS: OnceLock<rustls::ClientConfig> = OnceLock::new();
    if let Some(config) = TLS.get() {
        return Ok(config.clone());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| OutboundError::Build(format!("TLS cannot be set up: {e}")))?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Clones share the session store: without this, an upstream could link the calls of
    // different agents by their resumption tickets.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(TLS.get_or_init(|| config).clone())
}

/// Sends `out` and reads at most `max_body` bytes of the answer.
///
/// # Errors
/// See [`OutboundError`].
pub async fn send(out: Outbound, max_body: usize) -> Result<Answer, OutboundError> {
    let url = reqwest::Url::parse(&out.url).map_err(|e| OutboundError::Build(e.to_string()))?;
    if url.host_str() != Some(out.host.as_str()) {
        return Err(OutboundError::Build("the URL names another host than the one checked".into()));
    }
    let secs = out.timeout.as_secs();
    let failed = |e: reqwest::Error| {
        let e = e.without_url();
        if e.is_timeout() {
            OutboundError::Timeout(secs)
        } else if e.is_connect() {
            OutboundError::Connect(out.address)
        } else {
            OutboundError::Exchange(e.to_string())
        }
    };
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls()?)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(out.timeout)
        .connect_timeout(out.timeout.min(Duration::from_secs(10)));
    if let Some(host) = url.domain() {
        builder = builder.resolve(host, out.address);
    }
    let client = builder.build().map_err(|e| OutboundError::Build(e.without_url().to_string()))?;
    let mut resp = client
        .request(out.method.clone(), url)
        .headers(out.headers.clone())
        .body(out.body.to_vec())
        .send()
        .await
        .map_err(failed)?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = resp.chunk().await.map_err(failed)? {
        let room = max_body - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer { status, headers, body, truncated })
}
