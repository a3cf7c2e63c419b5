//! Answers as Vault and OpenBao give them: the success envelope, and `{"errors":[...]}` with a
//! `Content-Type` of exactly `application/json` (hvac reads an error body only then). Statuses
//! follow the recorded contract: 403 for every authentication or policy refusal, 404 with an
//! empty error list for what does not exist, 400 for bad input and failed logins.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::ApiError;

/// The content type every answer carries, to the byte.
const JSON: &str = "application/json";

/// A JSON body with Vault's exact content type.
pub fn json_body(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// The success envelope around `data` (and `auth`, for logins).
pub fn envelope(status: StatusCode, data: Value, auth: Value) -> Response {
    leased(status, data, auth, 0)
}

/// [`envelope`] with a `lease_duration` in seconds (what a dynamic secret lives).
pub fn leased(status: StatusCode, data: Value, auth: Value, lease_duration: i64) -> Response {
    json_body(
        status,
        &json!({
            "request_id": Uuid::new_v4().to_string(),
            "lease_id": "",
            "renewable": false,
            "lease_duration": lease_duration,
            "data": data,
            "wrap_info": null,
            "warnings": null,
            "auth": auth,
        }),
    )
}

/// `200` with `data`.
pub fn data(data: Value) -> Response {
    envelope(StatusCode::OK, data, Value::Null)
}

/// `204`, no body.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `status` with `{"errors":[messages]}`.
pub fn errors(status: StatusCode, messages: &[&str]) -> Response {
    json_body(status, &json!({ "errors": messages }))
}

/// `404 {"errors":[]}`: nothing there (Vault's form, which clients read as "not found").
pub fn not_found() -> Response {
    errors(StatusCode::NOT_FOUND, &[])
}

/// A bad or missing credential: Vault answers 403, never 401.
pub fn permission_denied() -> Response {
    errors(StatusCode::FORBIDDEN, &["permission denied"])
}

/// A service refusal in Vault's words. Messages are the service's, which never hold a value.
pub fn refusal(error: &ApiError) -> Response {
    let (inner, _) = error.unhinted();
    match inner {
        ApiError::Unauthorized(_) => permission_denied(),
        // The text Vault gives when a valid token's policies deny: clients match the substring.
        ApiError::Forbidden(_) => errors(StatusCode::FORBIDDEN, &["1 error occurred:\n\t* permission denied\n\n"]),
        ApiError::NotFound(_) | ApiError::Gone(_) => not_found(),
        ApiError::Invalid { field: "cas", .. } => {
            errors(StatusCode::BAD_REQUEST, &["check-and-set parameter did not match the current version"])
        }
        ApiError::Invalid { field: "cas_required", .. } => {
            errors(StatusCode::BAD_REQUEST, &["check-and-set parameter required for this call"])
        }
        ApiError::Internal(cause) => {
            tracing::error!(%cause, "Vault API request failed");
            errors(StatusCode::INTERNAL_SERVER_ERROR, &["internal error; the server log has the cause"])
        }
        ApiError::Integrity(detail) => {
            tracing::error!(%detail, "integrity check failed");
            errors(
                StatusCode::INTERNAL_SERVER_ERROR,
                &["stored data failed an integrity check; the server log has the details"],
            )
        }
        // Conflicts after retries, bad input, limits: the status the native API gives (400,
        // 408, 413, 429, 503), with the service's message.
        other => {
            let status = match other {
                ApiError::Conflict(_) => StatusCode::BAD_REQUEST,
                _ => other.status(),
            };
            let mut response = errors(status, &[&other.to_string()]);
            if let ApiError::TooManyRequests { retry_after, .. } = other
                && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
    }
}

/// A request the Vault API cannot take, with Vault's status and a message saying why.
pub fn bad_request(message: &str) -> Response {
    errors(StatusCode::BAD_REQUEST, &[message])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_exactly_application_json() {
        for response in [not_found(), permission_denied(), bad_request("x"), data(json!({}))] {
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        }
        assert_eq!(refusal(&ApiError::Unauthorized("x".into())).status(), StatusCode::FORBIDDEN);
        assert_eq!(refusal(&ApiError::Gone("x".into())).status(), StatusCode::NOT_FOUND);
        assert_eq!(refusal(&ApiError::Invalid { field: "cas", problem: "x".into() }).status(), StatusCode::BAD_REQUEST);
    }
}
