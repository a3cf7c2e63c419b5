//! A typed client of clawvault's native API, used by the `clawvault` CLI and by tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), clawvault_client::ClientError> {
//! let client = clawvault_client::Client::builder("http://127.0.0.1:8420")
//!     .api_key("1ck_...")
//!     .build()?;
//! let vault = client.create_vault("prod", "").await?;
//! client.put_secret("prod", "openai/api-key", &clawvault_client::PutSecret::new("sk-...")).await?;
//! let secret = client.get_secret(&vault.id.to_string(), "openai/api-key", None).await?;
//! # Ok(()) }
//! ```

mod agents;
mod api_keys;
mod consumers;
mod enroll;
mod error;
mod events;
mod github;
mod mcp;
mod policies;
mod proxy;
mod roles;
mod shares;
mod tls;
mod types;
mod users;

use std::time::Duration;

use clawvault_core::apikey::KeyKind;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

pub use agents::*;
pub use api_keys::*;
pub use consumers::{ConsumerHold, HeldSecret};
pub use enroll::*;
pub use error::{ClientError, Unreachable};
pub use events::{EventStream, SecretEvent, StreamEvent};
pub use github::{GithubToken, TokenRequest};
pub use policies::*;
pub use proxy::{ProxyRoute, ProxyUsage};
pub use roles::*;
pub use shares::*;
pub use types::*;
pub use users::*;

/// Characters escaped in one path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Checks a secret path with the server's own rules before it becomes a URL: URL
/// normalisation would otherwise turn `a/../b` into `b` and write somewhere else.
fn encode_path(path: &str) -> Result<String, ClientError> {
    clawvault_core::SecretPath::parse(path).map_err(|e| ClientError::InvalidInput(e.to_string()))?;
    Ok(path.split('/').map(encode_segment).collect::<Vec<_>>().join("/"))
}

fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The longest silence an event stream may have before the client gives it up (the server
/// sends a keep-alive every 15 s by default, at most every 300 s).
const STREAM_READ_TIMEOUT: Duration = Duration::from_secs(330);

/// Builds a [`Client`].
pub struct ClientBuilder {
    base: String,
    api_key: Option<Zeroizing<String>>,
    ca_pem: Option<Vec<u8>>,
    timeout: Duration,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder").field("base", &self.base).finish_non_exhaustive()
    }
}

/// Checks a server address: `http(s)://host[:port]` and perhaps a base path, and nothing that
/// would carry a credential or hide the real host (`http://127.0.0.1:8420@elsewhere` goes to
/// `elsewhere`): no user name or password, query or fragment.
///
/// # Errors
/// [`ClientError::Config`] naming what to change.
pub fn check_address(address: &str) -> Result<reqwest::Url, ClientError> {
    let bad = |why: &str| {
        ClientError::Config(format!("address {:?} {why}: write it like https://vault.example.com:8420", shown(address)))
    };
    if !(address.starts_with("http://") || address.starts_with("https://")) {
        return Err(bad("must start with http:// or https://"));
    }
    let url = reqwest::Url::parse(address).map_err(|_| bad("is not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("holds a user name or password (the part before @)"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("holds a query or fragment"));
    }
    if url.host().is_none() {
        return Err(bad("names no host"));
    }
    Ok(url)
}

/// `address` for an error message, without what could be a password (before an `@`).
fn shown(address: &str) -> String {
    let (scheme, rest) = address.split_once("://").unwrap_or(("", address));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://…@{}", &rest[at + 1..]),
        None => address.to_owned(),
    }
}

/// Whether `address` is a valid address of this machine (`localhost` or a loopback IP), read
/// exactly as the HTTP client will read it.
#[must_use]
pub fn is_loopback_address(address: &str) -> bool {
    let Ok(url) = check_address(address) else { return false };
    // The parser has already normalised the host (`127.1` is `127.0.0.1`; IPv6 in brackets).
    let host = url.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl ClientBuilder {
    /// Authenticates with an API key, sent as the bearer credential: a user's `1ck_` key or
    /// an agent's `ocv_` key.
    #[must_use]
    pub fn api_key(mut self, key: &str) -> Self {
        self.api_key = Some(Zeroizing::new(key.trim().to_owned()));
        self
    }

    /// Trusts only these PEM certificates: CAs, or the server's own self-signed certificate
    /// (pinned: trusted as it is, whatever its extensions say).
    #[must_use]
    pub fn ca_certificate_pem(mut self, pem: Vec<u8>) -> Self {
        self.ca_pem = Some(pem);
        self
    }

    /// Request timeout (default 30 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ClientError::Config`] for a bad address or certificate.
    pub fn build(self) -> Result<Client, ClientError> {
        let base = self.base.trim_end_matches('/').to_owned();
        check_address(&base)?;
        let mut http = reqwest::Client::builder()
            .timeout(self.timeout)
            .user_agent(concat!("clawvault-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &self.ca_pem {
            http = http.tls_backend_preconfigured(tls::config_trusting(pem)?);
        }
        let http = http.build().map_err(|e| ClientError::Config(e.to_string()))?;
        // Event streams last as long as they are read: no deadline for the whole answer, only
        // for the gap between bytes (the server sends keep-alives well within it).
        let mut stream_http = reqwest::Client::builder()
            .connect_timeout(self.timeout)
            .read_timeout(STREAM_READ_TIMEOUT)
            .user_agent(concat!("clawvault-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &self.ca_pem {
            stream_http = stream_http.tls_backend_preconfigured(tls::config_trusting(pem)?);
        }
        let stream_http = stream_http.build().map_err(|e| ClientError::Config(e.to_string()))?;
        Ok(Client { http, stream_http, base, api_key: self.api_key })
    }
}

/// A client of one clawvault server.
pub struct Client {
    http: reqwest::Client,
    stream_http: reqwest::Client,
    base: String,
    api_key: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish_non_exhaustive()
    }
}

impl Client {
    /// Starts building a client of the server at `base` (`http://127.0.0.1:8420`).
    #[must_use]
    pub fn builder(base: &str) -> ClientBuilder {
        ClientBuilder { base: base.to_owned(), api_key: None, ca_pem: None, timeout: Duration::from_secs(30) }
    }

    /// The server address.
    #[must_use]
    pub fn address(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&(dyn erased::Body + Sync)>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_json()?);
        }
        req.send().await.map_err(|e| ClientError::unreachable(&self.base, &e))
    }

    /// The bearer credential: the API key itself, which the server accepts on every endpoint
    /// (checked once, then cached there), so that a command costs one round trip and a loop of
    /// commands never meets the key-exchange limits.
    async fn token(&self) -> Result<Zeroizing<String>, ClientError> {
        self.api_key.clone().ok_or(ClientError::NoCredentials)
    }

    async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ClientError> {
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| ClientError::Decode(e.to_string()))?;
        if !status.is_success() {
            return Err(ClientError::from_response(status.as_u16(), &headers, &bytes));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Decode(format!("unexpected answer from the server: {e}")))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(dyn erased::Body + Sync)>,
    ) -> Result<T, ClientError> {
        let token = self.token().await?;
        let resp = self.send(method, path, Some(&token), body).await?;
        Self::decode(resp).await
    }

    async fn call_empty(
        &self,
        method: Method,
        path: &str,
        body: Option<&(dyn erased::Body + Sync)>,
    ) -> Result<(), ClientError> {
        let token = self.token().await?;
        let resp = self.send(method, path, Some(&token), body).await?;
        let status = resp.status();
        if status == StatusCode::NO_CONTENT || status.is_success() {
            return Ok(());
        }
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap_or_default();
        Err(ClientError::from_response(status.as_u16(), &headers, &bytes))
    }

    /// `GET /v1/health` (no credentials needed).
    ///
    /// # Errors
    /// When the server is unreachable or unhealthy.
    pub async fn health(&self) -> Result<Health, ClientError> {
        let resp = self.send(Method::GET, "/v1/health", None, None).await?;
        Self::decode(resp).await
    }

    /// `GET /v1/auth/me`: who the configured key belongs to (and a check that it works).
    ///
    /// # Errors
    /// 401 for a bad key; no credentials configured.
    pub async fn whoami(&self) -> Result<Me, ClientError> {
        self.call(Method::GET, "/v1/auth/me", None).await
    }

    /// Exchanges an API key for a token: an agent's `ocv_` key at `/v1/auth/agent-token`, any
    /// other at `/v1/auth/api-key-token`.
    ///
    /// # Errors
    /// 401 for a bad key.
    pub async fn exchange(&self, api_key: &str) -> Result<TokenResponse, ClientError> {
        if KeyKind::of(api_key) == Some(KeyKind::Agent) {
            let t = self.agent_token(api_key).await?;
            return Ok(TokenResponse { access_token: t.access_token, expires_in: t.expires_in });
        }
        let body = serde_json::json!({ "api_key": api_key });
        let resp = self.send(Method::POST, "/v1/auth/api-key-token", None, Some(&body)).await?;
        Self::decode(resp).await
    }

    /// Creates a vault.
    ///
    /// # Errors
    /// API errors.
    pub async fn create_vault(&self, name: &str, description: &str) -> Result<Vault, ClientError> {
        let body = serde_json::json!({ "name": name, "description": description });
        self.call(Method::POST, "/v1/vaults", Some(&body)).await
    }

    /// Lists vaults.
    ///
    /// # Errors
    /// API errors.
    pub async fn list_vaults(&self) -> Result<Vec<Vault>, ClientError> {
        let list: VaultList = self.call(Method::GET, "/v1/vaults", None).await?;
        Ok(list.vaults)
    }

    /// A vault by id or name.
    ///
    /// # Errors
    /// API errors.
    pub async fn get_vault(&self, vault: &str) -> Result<Vault, ClientError> {
        self.call(Method::GET, &format!("/v1/vaults/{}", encode_segment(vault)), None).await
    }

    /// Deletes a vault and its secrets.
    ///
    /// # Errors
    /// API errors.
    pub async fn delete_vault(&self, vault: &str) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &format!("/v1/vaults/{}", encode_segment(vault)), None).await
    }

    /// Writes a secret version.
    ///
    /// # Errors
    /// API errors.
    pub async fn put_secret(&self, vault: &str, path: &str, secret: &PutSecret) -> Result<SecretCreated, ClientError> {
        let url = format!("/v1/vaults/{}/secrets/{}", encode_segment(vault), encode_path(path)?);
        self.call(Method::PUT, &url, Some(secret)).await
    }

    /// Reads a secret (the current version, or `version`).
    ///
    /// # Errors
    /// API errors (404, 410, ...).
    pub async fn get_secret(&self, vault: &str, path: &str, version: Option<i64>) -> Result<Secret, ClientError> {
        let url = match version {
            None => format!("/v1/vaults/{}/secrets/{}", encode_segment(vault), encode_path(path)?),
            Some(v) => format!("/v1/vaults/{}/secret-version/{}/{v}", encode_segment(vault), encode_path(path)?),
        };
        self.call(Method::GET, &url, None).await
    }

    /// The current value of a secret to put where the caller does not see it (a process
    /// environment, a file): needs `use` rather than `read`. Never print what this returns.
    ///
    /// # Errors
    /// API errors.
    pub async fn use_secret(&self, vault: &str, path: &str) -> Result<Secret, ClientError> {
        let url = format!("/v1/vaults/{}/secret-use/{}", encode_segment(vault), encode_path(path)?);
        self.call(Method::POST, &url, None).await
    }

    /// Lists secrets under a prefix.
    ///
    /// # Errors
    /// API errors.
    pub async fn list_secrets(&self, vault: &str, prefix: &str) -> Result<Vec<SecretMetadata>, ClientError> {
        let url = format!("/v1/vaults/{}/secrets?prefix={}", encode_segment(vault), encode_segment(prefix));
        let list: SecretList = self.call(Method::GET, &url, None).await?;
        Ok(list.secrets)
    }

    /// Lists a secret's versions, newest first.
    ///
    /// # Errors
    /// API errors.
    pub async fn list_versions(&self, vault: &str, path: &str) -> Result<Vec<SecretMetadata>, ClientError> {
        let url = format!("/v1/vaults/{}/secret-versions/{}", encode_segment(vault), encode_path(path)?);
        let list: VersionList = self.call(Method::GET, &url, None).await?;
        Ok(list.versions)
    }

    /// Disables a version.
    ///
    /// # Errors
    /// API errors.
    pub async fn disable_version(&self, vault: &str, path: &str, version: i64) -> Result<(), ClientError> {
        let url =
            format!("/v1/vaults/{}/secret-version-disable/{}/{version}", encode_segment(vault), encode_path(path)?);
        self.call_empty(Method::POST, &url, None).await
    }

    /// Server-side rotation.
    ///
    /// # Errors
    /// API errors.
    pub async fn rotate_secret(&self, vault: &str, path: &str, rotate: &Rotate) -> Result<SecretCreated, ClientError> {
        let url = format!("/v1/vaults/{}/secret-rotate/{}", encode_segment(vault), encode_path(path)?);
        self.call(Method::POST, &url, Some(rotate)).await
    }

    /// Soft-deletes a secret.
    ///
    /// # Errors
    /// API errors.
    pub async fn delete_secret(&self, vault: &str, path: &str) -> Result<(), ClientError> {
        let url = format!("/v1/vaults/{}/secrets/{}", encode_segment(vault), encode_path(path)?);
        self.call_empty(Method::DELETE, &url, None).await
    }

    /// Restores a deleted secret (admins).
    ///
    /// # Errors
    /// API errors.
    pub async fn restore_secret(&self, vault: &str, path: &str) -> Result<SecretMetadata, ClientError> {
        let url = format!("/v1/vaults/{}/secret-restore/{}", encode_segment(vault), encode_path(path)?);
        self.call(Method::POST, &url, None).await
    }

    /// Audit events.
    ///
    /// # Errors
    /// API errors.
    pub async fn audit_events(&self, query: &AuditQuery) -> Result<AuditList, ClientError> {
        let qs = serde_urlencoded_like(query);
        self.call(Method::GET, &format!("/v1/audit/events{qs}"), None).await
    }

    /// Verifies the audit chain on the server; with `anchor` (`cva1:…`), it must still hold
    /// the anchored event.
    ///
    /// # Errors
    /// API errors (400 for an anchor that is not this server's).
    pub async fn audit_verify(&self, anchor: Option<&str>) -> Result<VerifyResult, ClientError> {
        let path = match anchor {
            Some(a) => format!("/v1/audit/verify?anchor={}", encode_segment(a.trim())),
            None => "/v1/audit/verify".to_owned(),
        };
        self.call(Method::GET, &path, None).await
    }

    /// The audit chain's head as an anchor to keep elsewhere.
    ///
    /// # Errors
    /// API errors (404 before the first event).
    pub async fn audit_anchor(&self) -> Result<AuditAnchor, ClientError> {
        self.call(Method::GET, "/v1/audit/anchor", None).await
    }
}

fn serde_urlencoded_like(q: &AuditQuery) -> String {
    let mut parts = Vec::new();
    let mut push = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            parts.push(format!("{k}={}", encode_segment(v)));
        }
    };
    push("action", &q.action);
    push("actor_id", &q.actor_id);
    push("resource_id", &q.resource_id);
    push("limit", &q.limit.map(|l| l.to_string()));
    push("offset", &q.offset.map(|o| o.to_string()));
    push("order", &q.newest_first.then(|| "newest".to_owned()));
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}

mod erased {
    use super::ClientError;

    /// A serialisable request body (object-safe).
    pub trait Body {
        fn to_json(&self) -> Result<Vec<u8>, ClientError>;
    }

    impl<T: serde::Serialize> Body for T {
        fn to_json(&self) -> Result<Vec<u8>, ClientError> {
            serde_json::to_vec(self).map_err(|e| ClientError::Decode(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_that_hides_its_host_or_carries_a_credential_is_refused() {
        for local in ["http://127.0.0.1:8420", "https://[::1]:8420", "http://localhost:8420/", "http://127.1:8420"] {
            assert!(is_loopback_address(local), "{local}");
        }
        for elsewhere in [
            "http://127.0.0.1:8420@evil.example",
            "http://[::1]:1@evil.example",
            "http://evil.example/127.0.0.1",
            "http://localhost.evil.example:8420",
            "http://0.0.0.0:8420",
        ] {
            assert!(!is_loopback_address(elsewhere), "{elsewhere}");
        }
        for bad in ["http://u:hunter2@host", "http://host/?x=1", "http://host/#f", "ftp://host", "http://"] {
            let err = check_address(bad).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
        }
        assert!(check_address("https://vault.example.com:8420/base").is_ok());
    }
}
