//! The server's errors: [`ServerError`], why it could not start or run, and [`ApiError`], the
//! HTTP edge's error type: one enum, one `IntoResponse`, RFC 7807 bodies
//! (`{"type","title","status","detail"}`) that 1Claw's SDK reads (`detail`).
//!
//! Details are written for the user at the other end: what went wrong and what to do.
//! They never contain a secret value, a key or a token; server-side failures are logged
//! with their cause and answered with a generic detail.
//!
//! The service layer's messages name no surface: where the next step depends on the surface
//! (an HTTP path, a CLI command, an MCP tool), the error carries a [`Hint`] that each surface
//! words its own way. The problem documents here are the native API's, with its wording.

use std::net::SocketAddr;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clawvault_store::StoreError;
use serde::Serialize;

use crate::config::ConfigError;

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory cannot be used.
    #[error("data directory: {0}")]
    DataDir(String),
    /// The root key (or a key it protects) cannot be loaded or used.
    #[error("root key: {0}")]
    RootKey(String),
    /// The database failed. (Not a `source`: the message already carries it, and error
    /// reports that walk the chain would print it twice.)
    #[error("storage: {0}")]
    Store(StoreError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Why, with advice.
        reason: String,
    },
    /// TLS files are unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// The HTTP server failed.
    #[error("serving: {0}")]
    Serve(String),
    /// An audit anchor is unusable.
    #[error("audit anchor: {0}")]
    Anchor(String),
}

impl From<StoreError> for ServerError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// A next step that each surface words its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// See which vaults there are.
    ListVaults,
    /// An admin restores a deleted secret.
    RestoreSecret,
    /// The recipient accepts a share before opening it.
    AcceptShare,
    /// Send a share's passphrase.
    SendPassphrase,
    /// Send the enrollment's proof of possession.
    SendEnrollmentSignature,
    /// Agent keys are exchanged elsewhere.
    ExchangeAgentKey,
    /// User keys are exchanged elsewhere.
    ExchangeUserKey,
    /// Revoke an API key by deleting it.
    DeleteApiKey,
    /// Name a destination in the secret's `allowed_hosts`.
    AllowHost,
}

impl Hint {
    /// The name the native API gives this hint in a problem document's `hint` member, so that
    /// a client (the CLI) can word the next step its own way.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::ListVaults => "list_vaults",
            Self::RestoreSecret => "restore_secret",
            Self::AcceptShare => "accept_share",
            Self::SendPassphrase => "send_passphrase",
            Self::SendEnrollmentSignature => "send_enrollment_signature",
            Self::ExchangeAgentKey => "exchange_agent_key",
            Self::ExchangeUserKey => "exchange_user_key",
            Self::DeleteApiKey => "delete_api_key",
            Self::AllowHost => "allow_host",
        }
    }

    /// The native API's wording, appended to the message.
    fn native(self) -> &'static str {
        match self {
            Self::ListVaults => ": list vaults with GET /v1/vaults",
            Self::RestoreSecret => " with `clawvault secret restore`",
            Self::AcceptShare => ": POST /v1/shares/<share id>/accept (or `clawvault share accept`)",
            Self::SendPassphrase => ": send {\"passphrase\": \"...\"} as the JSON body",
            Self::SendEnrollmentSignature => " as the X-Enrollment-Signature header or ?signature=",
            Self::ExchangeAgentKey => ": agent keys are exchanged at POST /v1/auth/agent-token",
            Self::ExchangeUserKey => ": user keys are exchanged at POST /v1/auth/api-key-token",
            Self::DeleteApiKey => " (DELETE /v1/auth/api-keys/{id})",
            Self::AllowHost => ": a user who may write the secret names the host in its metadata's allowed_hosts",
        }
    }
}

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 400: one field of the request is wrong. Each surface names the field its own way (the
    /// native API by its JSON name, the CLI by its flag).
    #[error("{field} {problem}")]
    Invalid {
        /// The field's name in the native API's request.
        field: &'static str,
        /// What is wrong, worded to follow the field's name ("must be 1 or more").
        problem: String,
    },
    /// 401: no, bad, expired or revoked credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing.
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 410: existed, but can no longer be read (expired, exhausted, disabled, deleted).
    #[error("{0}")]
    Gone(String),
    /// 408: the request did not arrive in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// 405: the path exists, the method does not.
    #[error("this method is not supported on this path: see /v1/openapi.json")]
    MethodNotAllowed,
    /// 413: body over the limit.
    #[error("request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// 429: slow down; `Retry-After` says for how long (seconds).
    #[error("{detail}")]
    TooManyRequests {
        /// Seconds to wait.
        retry_after: u64,
        /// Why.
        detail: String,
    },
    /// 503: not ready (sealed, shutting down, database unavailable).
    #[error("{0}")]
    Unavailable(String),
    /// 502: a service called on the caller's behalf (GitHub's API) refused or failed.
    #[error("{0}")]
    BadGateway(String),
    /// 500: stored data failed an integrity check; the detail says what and what to do.
    #[error("{0}")]
    Integrity(String),
    /// 500: a failure on our side; the cause is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
    /// Another error with a next step for the surface to word.
    #[error("{error}")]
    Hinted {
        /// The error.
        error: Box<ApiError>,
        /// What to do about it.
        hint: Hint,
    },
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

/// What a problem document carries besides its detail, for clients that word it themselves.
#[derive(Default)]
struct Extras<'a> {
    hint: Option<&'static str>,
    message: Option<&'a str>,
    field: Option<&'static str>,
}

impl ApiError {
    /// This error with `hint`.
    #[must_use]
    pub fn hint(self, hint: Hint) -> Self {
        Self::Hinted { error: Box::new(self), hint }
    }

    /// The error without its hint, and the hint.
    #[must_use]
    pub fn unhinted(&self) -> (&ApiError, Option<Hint>) {
        match self {
            Self::Hinted { error, hint } => (error.unhinted().0, Some(*hint)),
            other => (other, None),
        }
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Hinted { error, .. } => error.status(),
            Self::BadRequest(_) | Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Integrity(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The detail the native API shows the client.
    fn detail(&self) -> String {
        match self.unhinted() {
            (Self::Internal(_), _) => "internal error; the server log has the cause".to_owned(),
            (error, None) => error.to_string(),
            (error, Some(hint)) => format!("{error}{}", hint.native()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self.unhinted().0 {
            Self::Internal(cause) => tracing::error!(%cause, "request failed"),
            Self::Integrity(detail) => tracing::error!(%detail, "integrity check failed"),
            _ => {}
        }
        let detail = self.detail();
        let mut resp = match self.unhinted() {
            (Self::Invalid { field, problem }, hint) => problem_response(
                status,
                &detail,
                Extras { hint: hint.map(Hint::code), message: Some(problem), field: Some(field) },
            ),
            (error, Some(hint)) if !matches!(error, Self::Internal(_)) => {
                let message = error.to_string();
                problem_response(
                    status,
                    &detail,
                    Extras { hint: Some(hint.code()), message: Some(&message), field: None },
                )
            }
            _ => problem(status, &detail),
        };
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Self::TooManyRequests { retry_after, .. } = self.unhinted().0
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<clawvault_store::StoreError> for ApiError {
    fn from(e: clawvault_store::StoreError) -> Self {
        match e {
            clawvault_store::StoreError::Conflict(what) => Self::Conflict(what.to_owned()),
            clawvault_store::StoreError::Unstorable(what) => Self::BadRequest(what.to_owned()),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Result of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// An RFC 7807 problem, as every error answer carries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemDoc {
    /// Always `about:blank`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status text.
    pub title: String,
    /// The status code.
    pub status: u16,
    /// What went wrong and what to do.
    pub detail: String,
    /// When there is a next step: its name (`list_vaults`, `restore_secret`, `accept_share`,
    /// `send_passphrase`, `send_enrollment_signature`, `exchange_agent_key`,
    /// `exchange_user_key`, `delete_api_key`), for clients that word it their own way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// With `hint` or `field`: the detail without the API's wording of the next step, and
    /// without the field's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When one field of the request is wrong: its name in the request (`expires_at`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An RFC 7807 problem response with `status` and `detail`.
pub(crate) fn problem(status: StatusCode, detail: &str) -> Response {
    problem_response(status, detail, Extras::default())
}

fn problem_response(status: StatusCode, detail: &str, extras: Extras<'_>) -> Response {
    let body = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail,
        hint: extras.hint,
        message: extras.message,
        field: extras.field,
    };
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    resp
}

#[cfg(test)]
mod tests {
    use super::{ApiError, Hint};
    use axum::http::StatusCode;

    #[test]
    fn a_hint_keeps_the_status_and_only_the_native_detail_words_it() {
        let e = ApiError::NotFound("no vault \"x\"".into()).hint(Hint::ListVaults);
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(e.to_string(), "no vault \"x\"", "the service's message names no surface");
        assert_eq!(e.detail(), "no vault \"x\": list vaults with GET /v1/vaults");
        assert!(matches!(e.unhinted(), (ApiError::NotFound(_), Some(Hint::ListVaults))));
        let internal = ApiError::Internal("cause".into()).hint(Hint::ListVaults);
        assert_eq!(internal.detail(), "internal error; the server log has the cause");
    }
}
