//! Operations shared by every API surface (native now; Vault-compatible and MCP later):
//! they take a caller and an audited [`Op`](crate::op::Op), check access, and speak in
//! [`ApiError`](crate::error::ApiError)s that each surface maps to its own format.

pub mod access;
pub mod agents;
pub mod audit;
pub mod authenticate;
pub mod enroll;
pub mod keys;
pub mod policies;
pub mod reveal;
pub mod secrets;
pub mod shares;
pub mod users;
pub mod vaults;

use clawvault_core::time_util::rfc3339;
use time::OffsetDateTime;

use crate::error::{ApiError, ApiResult};

/// Checks a free-text field (names, descriptions): at most `max` bytes, no control or
/// invisible formatting character, and not empty when `required`.
///
/// # Errors
/// [`ApiError::BadRequest`] naming the field and the rule.
pub fn free_text(field: &'static str, value: &str, max: usize, required: bool) -> ApiResult<()> {
    clawvault_core::text::check(field, value, max, required).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Parses the id of a `what` ("agent id", "share id") given in a request.
///
/// # Errors
/// [`ApiError::BadRequest`] naming what it should have been.
pub fn id(raw: &str, what: &str) -> ApiResult<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::BadRequest(format!("{what} must be a UUID")))
}

/// Longest name (people, agents, API keys).
pub const MAX_NAME_LEN: usize = 128;
/// Longest description (agents, enrolments).
pub const MAX_DESCRIPTION_LEN: usize = 4096;

/// Refuses a `field` time that is already past (an expiry in the past is surely a mistake).
///
/// # Errors
/// [`ApiError::BadRequest`].
pub fn require_future(field: &str, at: Option<OffsetDateTime>) -> ApiResult<()> {
    match at {
        Some(at) if at <= OffsetDateTime::now_utc() => {
            Err(ApiError::BadRequest(format!("{field} {} is in the past", rfc3339(at))))
        }
        _ => Ok(()),
    }
}
