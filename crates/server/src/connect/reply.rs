//! Answers as 1Password Connect gives them: JSON bodies, errors as `{"status": N, "message":
//! "..."}` (the Go SDK takes the status from the body, so it is always there), and the status
//! codes the SDKs insist on (200 for a create, 204 for a delete).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;

/// The Connect API version this surface answers as, sent on every answer: the Go SDK refuses
/// the file endpoints of a server that does not say it is at least 1.3.0.
pub const CONNECT_VERSION: &str = "1.8.1";
/// The header that carries it.
pub const VERSION_HEADER: &str = "1password-connect-version";

/// `status` with a JSON body.
pub fn json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `200` with a JSON body.
pub fn ok(body: &Value) -> Response {
    json(StatusCode::OK, body)
}

/// An error in Connect's form.
pub fn error(status: StatusCode, message: &str) -> Response {
    json(status, &json!({ "status": status.as_u16(), "message": message }))
}

/// A service refusal in Connect's form. Messages are the service's, which never hold a value;
/// none begins with `Authorization`, which ESO's client retries as a passing condition.
pub fn refusal(e: &ApiError) -> Response {
    let (inner, _) = e.unhinted();
    let status = match inner {
        ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::NotFound(_) | ApiError::Gone(_) => StatusCode::NOT_FOUND,
        ApiError::Conflict(_) | ApiError::Invalid { field: "cas", .. } => StatusCode::CONFLICT,
        ApiError::Internal(cause) => {
            tracing::error!(%cause, "Connect API request failed");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error; the server log has the cause");
        }
        ApiError::Integrity(detail) => {
            tracing::error!(%detail, "integrity check failed");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "stored data failed an integrity check; the server log has the details",
            );
        }
        other => other.status(),
    };
    let message = match inner {
        ApiError::Unauthorized(reason) => format!("Invalid bearer token: {reason}"),
        other => other.to_string(),
    };
    let mut response = error(status, &message);
    if let ApiError::TooManyRequests { retry_after, .. } = inner
        && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// Why a request is not answered as asked: a service refusal, or one of this API's own.
#[derive(Debug)]
pub enum Refusal {
    /// The service layer's.
    Service(ApiError),
    /// This API's own, with its status and message.
    Own(StatusCode, String),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Self::Service(e)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Service(e) => refusal(&e),
            Self::Own(status, message) => error(status, &message),
        }
    }
}

/// A request this API cannot take: 400 saying why.
pub fn bad_request(message: impl Into<String>) -> Refusal {
    Refusal::Own(StatusCode::BAD_REQUEST, message.into())
}

/// `204`, no body: what the Go SDK requires of a delete.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Longest error text of another layer read back (axum's rejections are short).
const REJECTION_TEXT_LIMIT: usize = 4096;

/// Errors that did not come from this API's handlers (axum's rejections of a path or query,
/// the body limit, `HEAD`, a caught panic), put in Connect's form: every error a Connect
/// client reads is `{"status", "message"}`.
pub async fn connect_errors(resp: Response) -> Response {
    let status = resp.status();
    let json = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/json");
    if !(status.is_client_error() || status.is_server_error()) || json {
        return resp;
    }
    let retry_after = resp.headers().get(header::RETRY_AFTER).cloned();
    let problem = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/problem+json");
    let text = axum::body::to_bytes(resp.into_body(), REJECTION_TEXT_LIMIT).await.unwrap_or_default();
    let detail = if problem {
        serde_json::from_slice::<Value>(&text)
            .ok()
            .and_then(|p| p.get("detail").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default()
    } else {
        String::from_utf8_lossy(&text).trim().to_owned()
    };
    let message = if detail.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { detail };
    let mut response = error(status, &message);
    if let Some(v) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_of_other_layers_are_put_in_connects_form() {
        let plain = (StatusCode::BAD_REQUEST, "Failed to deserialize query string").into_response();
        let problem = crate::error::ApiError::MethodNotAllowed.into_response();
        for (response, status) in [(plain, StatusCode::BAD_REQUEST), (problem, StatusCode::METHOD_NOT_ALLOWED)] {
            let converted = connect_errors(response).await;
            assert_eq!(converted.status(), status);
            assert_eq!(converted.headers()[header::CONTENT_TYPE], "application/json");
            let body = axum::body::to_bytes(converted.into_body(), 4096).await.unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["status"], status.as_u16());
            assert!(!body["message"].as_str().unwrap().is_empty());
        }
        let ok = connect_errors(reply_ok_text()).await;
        assert_eq!(ok.headers()[header::CONTENT_TYPE], "text/plain", "successes are left as they are");
    }

    fn reply_ok_text() -> Response {
        let mut r = (StatusCode::OK, ".").into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        r
    }

    #[test]
    fn refusals_carry_the_status_in_the_body_too() {
        for (e, status) in [
            (ApiError::Unauthorized("expired".into()), StatusCode::UNAUTHORIZED),
            (ApiError::Forbidden("no".into()), StatusCode::FORBIDDEN),
            (ApiError::NotFound("gone".into()), StatusCode::NOT_FOUND),
            (ApiError::Invalid { field: "cas", problem: "x".into() }, StatusCode::CONFLICT),
            (ApiError::Internal("db path /secret".into()), StatusCode::INTERNAL_SERVER_ERROR),
        ] {
            let response = refusal(&e);
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        }
    }
}
