//! Operations shared by every API surface (native now; Vault-compatible and MCP later):
//! they take a caller and an audited [`Op`](crate::op::Op), check access, and speak in
//! [`ApiError`](crate::error::ApiError)s that each surface maps to its own format.

pub mod access;
pub mod agents;
pub mod audit;
pub mod authenticate;
pub mod consumers;
pub mod egress;
pub mod enroll;
pub mod events;
pub mod fields;
pub mod github;
pub mod keys;
pub mod kv;
pub mod login;
pub mod policies;
pub mod proxy;
pub mod reveal;
pub mod routes;
pub mod secret_requests;
pub mod secrets;
pub mod shares;
pub mod users;
pub mod vaults;
pub mod whoami;

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

/// Longest name (users, agents, API keys).
pub const MAX_NAME_LEN: usize = 128;
/// Longest description (agents, enrollments).
pub const MAX_DESCRIPTION_LEN: usize = 4096;

/// Refuses a `field` time that is already past (an expiry in the past is surely a mistake).
///
/// # Errors
/// [`ApiError::Invalid`].
pub fn require_future(field: &'static str, at: Option<OffsetDateTime>) -> ApiResult<()> {
    match at {
        Some(at) if at <= OffsetDateTime::now_utc() => {
            Err(ApiError::Invalid { field, problem: format!("{} is in the past", rfc3339(at)) })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    /// The service layer's messages name no surface: no HTTP path, CLI command or header in a
    /// string of its code (comments may name them); surfaces word next steps from a `Hint`.
    #[test]
    fn messages_name_no_surface() {
        let files = [
            ("access.rs", include_str!("access.rs")),
            ("agents.rs", include_str!("agents.rs")),
            ("audit.rs", include_str!("audit.rs")),
            ("authenticate.rs", include_str!("authenticate.rs")),
            ("consumers.rs", include_str!("consumers.rs")),
            ("egress.rs", include_str!("egress.rs")),
            ("enroll.rs", include_str!("enroll.rs")),
            ("events.rs", include_str!("events.rs")),
            ("fields.rs", include_str!("fields.rs")),
            ("github.rs", include_str!("github.rs")),
            ("kv.rs", include_str!("kv.rs")),
            ("login.rs", include_str!("login.rs")),
            ("secret_requests.rs", include_str!("secret_requests.rs")),
            ("whoami.rs", include_str!("whoami.rs")),
            ("keys.rs", include_str!("keys.rs")),
            ("mod.rs", include_str!("mod.rs")),
            ("policies.rs", include_str!("policies.rs")),
            ("proxy.rs", include_str!("proxy.rs")),
            ("reveal.rs", include_str!("reveal.rs")),
            ("routes.rs", include_str!("routes.rs")),
            ("secrets.rs", include_str!("secrets.rs")),
            ("shares.rs", include_str!("shares.rs")),
            ("users.rs", include_str!("users.rs")),
            ("vaults.rs", include_str!("vaults.rs")),
        ];
        let markers = [concat!("/v", "1/"), concat!("`claw", "vault "), concat!("X", "-")];
        let mut found = Vec::new();
        for (name, text) in files {
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") || !code.contains('"') {
                    continue;
                }
                if markers.iter().any(|m| code.contains(m)) {
                    found.push(format!("{name}:{}: {code}", n + 1));
                }
            }
        }
        assert!(found.is_empty(), "service messages that name a surface:\n{}", found.join("\n"));
    }
}
