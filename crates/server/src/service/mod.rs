//! Operations shared by every API surface (native now; Vault-compatible and MCP later):
//! they take a caller and an audited [`Op`](crate::op::Op), check access, and speak in
//! [`ApiError`](crate::error::ApiError)s that each surface maps to its own format.

pub mod access;
pub mod agents;
pub mod enroll;
pub mod keys;
pub mod policies;
pub mod secrets;
pub mod shares;
pub mod users;
pub mod vaults;

use clawvault_core::time_util::rfc3339;
use time::OffsetDateTime;

use crate::error::{ApiError, ApiResult};

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
