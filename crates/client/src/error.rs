use std::fmt;

/// Failures of client calls, each with a message that says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nothing usable answered at the address.
    #[error("cannot talk to the server at {address}: {cause}")]
    Unreachable {
        /// The address tried.
        address: String,
        /// Why, with what to do.
        cause: Unreachable,
    },
    /// The server answered with an error.
    #[error("{status_text} ({status}): {}", with_field(field.as_deref(), detail))]
    Api {
        /// HTTP status.
        status: u16,
        /// Status text.
        status_text: StatusText,
        /// The problem's detail; when the server names a next step, without the API's
        /// wording of it.
        detail: String,
        /// The next step the server names (`list_vaults`, `restore_secret`, ...), for the
        /// caller to word.
        hint: Option<String>,
        /// When one field of the request was wrong: its name in the request (`expires_at`);
        /// `detail` then says what is wrong with it, without naming it.
        field: Option<String>,
    },
    /// The server refused for now (429): too many attempts from this client or for this key.
    #[error("too many requests ({detail}): retry in {retry_after} s")]
    RateLimited {
        /// Seconds to wait, from the server's `Retry-After` (1 when it named none).
        retry_after: u64,
        /// The problem's detail.
        detail: String,
    },
    /// No API key was configured.
    #[error(
        "no credentials: run `clawvault login`, set CLAWVAULT_API_KEY, or start a local server with `clawvault server`"
    )]
    NoCredentials,
    /// Input refused before sending (e.g. a secret path breaking a rule).
    #[error("{0}")]
    InvalidInput(String),
    /// The answer could not be read.
    #[error("{0}")]
    Decode(String),
    /// Bad client configuration.
    #[error("{0}")]
    Config(String),
}

/// `field` and what is wrong with it, or the detail alone.
fn with_field(field: Option<&str>, detail: &str) -> String {
    field.map_or_else(|| detail.to_owned(), |f| format!("{f} {detail}"))
}

/// A status code's reason phrase.
#[derive(Debug, Clone, Copy)]
pub struct StatusText(pub u16);

impl fmt::Display for StatusText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = reqwest::StatusCode::from_u16(self.0).ok().and_then(|s| s.canonical_reason()).unwrap_or("error");
        f.write_str(text)
    }
}

impl ClientError {
    pub(crate) fn unreachable(address: &str, e: &reqwest::Error) -> Self {
        Self::Unreachable { address: address.to_owned(), cause: Unreachable::of(address, e) }
    }

    pub(crate) fn from_response(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Self {
        let err = Self::from_problem(status, body);
        match err {
            Self::Api { status: 429, detail, .. } => {
                let retry_after = headers
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(1);
                Self::RateLimited { retry_after, detail }
            }
            other => other,
        }
    }

    fn from_problem(status: u16, body: &[u8]) -> Self {
        let doc = serde_json::from_slice::<serde_json::Value>(body).ok();
        let text = |key: &str| doc.as_ref().and_then(|v| v.get(key)).and_then(|d| d.as_str()).map(str::to_owned);
        let (hint, field) = (text("hint"), text("field"));
        let detail = (hint.is_some() || field.is_some())
            .then(|| text("message"))
            .flatten()
            .or_else(|| ["detail", "message", "error"].iter().find_map(|k| text(k)))
            .unwrap_or_else(|| "no details given".to_owned());
        Self::Api { status, status_text: StatusText(status), detail, hint, field }
    }

    /// The HTTP status, for API errors.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }
}

/// Why a server could not be reached, each cause with its own advice.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unreachable {
    /// Nothing listens at that host and port.
    Refused,
    /// The host name does not resolve.
    NoSuchHost(String),
    /// `https://` to a server that speaks plain HTTP.
    PlainHttpServer,
    /// `http://` to a server that speaks TLS.
    TlsServer,
    /// The server's certificate is signed by no CA the client trusts.
    UntrustedCertificate,
    /// The server's certificate names other hosts than the address.
    WrongName(String),
    /// The server's certificate has expired (or is not valid yet).
    CertificateExpired,
    /// Another TLS failure.
    Tls(String),
    /// No answer in time.
    Timeout,
    /// Anything else, as the networking library words it.
    Other(String),
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused => f.write_str(
                "nothing listens there (connection refused): start the server with `clawvault server`, or \
                 check the port in --address (`clawvault status` shows which address is used and why)",
            ),
            Self::NoSuchHost(host) => write!(
                f,
                "the host name {host:?} does not resolve: check its spelling in --address (or CLAWVAULT_ADDR, \
                 or the profile: `clawvault status` says which)"
            ),
            Self::PlainHttpServer => f.write_str(
                "the server speaks plain HTTP, not TLS: use an http:// address, or start the server with \
                 --tls-cert and --tls-key",
            ),
            Self::TlsServer => f.write_str("the server speaks TLS: use an https:// address"),
            Self::UntrustedCertificate => f.write_str(
                "its TLS certificate is not signed by a CA this client trusts: pass the CA's certificate, or \
                 the server's own self-signed one, with --ca-cert FILE (or CLAWVAULT_CACERT)",
            ),
            Self::WrongName(host) => write!(
                f,
                "its TLS certificate is not valid for {host:?}: use a name or address the certificate lists \
                 (its subjectAltName), or give the server a certificate that lists {host:?}"
            ),
            Self::CertificateExpired => f.write_str(
                "its TLS certificate has expired (or is not valid yet): renew the server's certificate, and \
                 check this machine's clock",
            ),
            Self::Tls(what) => write!(f, "the TLS handshake failed ({what})"),
            Self::Timeout => {
                f.write_str("no answer within the timeout: check that the server is up and not overloaded")
            }
            Self::Other(what) => f.write_str(what),
        }
    }
}

impl Unreachable {
    fn of(address: &str, e: &reqwest::Error) -> Self {
        let mut text = e.to_string();
        let mut chain: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
        let mut todo: Vec<&(dyn std::error::Error + 'static)> = std::error::Error::source(e).into_iter().collect();
        while let Some(err) = todo.pop() {
            chain.push(err);
            // An io::Error hides the error it wraps from `source()`: look inside it too.
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return Self::Refused;
                }
                if let Some(inner) = io.get_ref() {
                    todo.push(inner);
                    continue;
                }
            }
            text = format!("{text}: {err}");
            todo.extend(err.source());
        }
        if let Some(tls) = chain.iter().find_map(|c| c.downcast_ref::<rustls::Error>()) {
            return Self::from_tls(address, tls);
        }
        let lower = text.to_lowercase();
        if lower.contains("dns error") || lower.contains("failed to lookup address") {
            return Self::NoSuchHost(host_of(address).to_owned());
        }
        if lower.contains("invalid http version") {
            return Self::TlsServer;
        }
        if e.is_timeout() {
            return Self::Timeout;
        }
        Self::Other(text)
    }

    fn from_tls(address: &str, e: &rustls::Error) -> Self {
        use rustls::{CertificateError, Error, InvalidMessage};
        match e {
            Error::InvalidMessage(InvalidMessage::InvalidContentType) => Self::PlainHttpServer,
            Error::InvalidCertificate(c) => match c {
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    Self::WrongName(host_of(address).to_owned())
                }
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => Self::CertificateExpired,
                _ => Self::UntrustedCertificate,
            },
            other => Self::Tls(other.to_string()),
        }
    }
}

/// The host of an `http(s)://host:port/...` address.
fn host_of(address: &str) -> &str {
    let rest = address.split_once("://").map_or(address, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}
