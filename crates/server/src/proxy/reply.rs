//! The proxy's own answers (refusals, upstream failures) in the shape provider SDKs read: the
//! OpenAI and Anthropic clients both show `error.message` of a JSON body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;

/// An error answer with `status` and `message`.
pub fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({ "type": "error", "error": { "type": "clawvault_proxy_error", "code": status.as_u16(), "message": message } });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A service refusal (its message never holds a value), with `Retry-After` for a spent budget.
pub fn refusal(e: &ApiError) -> Response {
    let (inner, _) = e.unhinted();
    let message = match inner {
        ApiError::Internal(cause) => {
            tracing::error!(%cause, "proxy request failed");
            "internal error; the server log has the cause".to_owned()
        }
        ApiError::Integrity(detail) => {
            tracing::error!(%detail, "integrity check failed");
            "stored data failed an integrity check; the server log has the details".to_owned()
        }
        other => other.to_string(),
    };
    let mut response = error(inner.status(), &message);
    if let ApiError::TooManyRequests { retry_after, .. } = inner
        && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}
