use std::fmt;

/// Failures of client calls, each with a message that says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nothing answered at the address.
    #[error("server not reachable at {address}: {reason}")]
    Unreachable {
        /// The address tried.
        address: String,
        /// Why, with advice.
        reason: String,
    },
    /// The server answered with an error.
    #[error("{status_text} ({status}): {detail}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Status text.
        status_text: StatusText,
        /// The problem's detail.
        detail: String,
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
        let mut chain = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            chain = format!("{chain}: {s}");
            src = s.source();
        }
        let lower = chain.to_lowercase();
        let reason = if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            format!("TLS failed ({chain}); if the server uses a private CA, pass its certificate with --ca-cert")
        } else if e.is_connect() {
            "connection refused: start it with `clawvault server`, or pass the right --address".to_owned()
        } else if e.is_timeout() {
            "the request timed out".to_owned()
        } else {
            chain
        };
        Self::Unreachable { address: address.to_owned(), reason }
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
        let detail = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                ["detail", "message", "error"]
                    .iter()
                    .find_map(|k| v.get(*k).and_then(|d| d.as_str()).map(str::to_owned))
            })
            .unwrap_or_else(|| "no details given".to_owned());
        Self::Api { status, status_text: StatusText(status), detail }
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
