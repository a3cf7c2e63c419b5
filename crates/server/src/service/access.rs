//! Who may do what. Admins may do everything; members act on the vaults they created.
//! (Agents, policies and grants arrive with the agents issue and extend this module.)

use clawvault_store::VaultRecord;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// What a caller wants to do to a vault's secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Reveal a value.
    Read,
    /// Write a version.
    Write,
    /// Delete.
    Delete,
    /// Server-side rotate.
    Rotate,
    /// List paths.
    List,
    /// Manage the vault itself (delete it).
    Manage,
}

impl Permission {
    fn verb(self) -> &'static str {
        match self {
            Self::Read => "read secrets in",
            Self::Write => "write secrets in",
            Self::Delete => "delete secrets in",
            Self::Rotate => "rotate secrets in",
            Self::List => "list secrets in",
            Self::Manage => "manage",
        }
    }
}

/// Checks that `caller` may act on `vault`.
///
/// # Errors
/// [`ApiError::Forbidden`] naming what was refused.
pub fn check(caller: &Caller, vault: &VaultRecord, permission: Permission) -> ApiResult<()> {
    let p = &caller.principal;
    if p.is_admin() || vault.created_by == p.user_id {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "you may not {} vault {}: ask its owner or an admin for access",
        permission.verb(),
        vault.id
    )))
}

/// Checks that `caller` is an admin.
///
/// # Errors
/// [`ApiError::Forbidden`].
pub fn require_admin(caller: &Caller, what: &str) -> ApiResult<()> {
    if caller.principal.is_admin() { Ok(()) } else { Err(ApiError::Forbidden(format!("only an admin may {what}"))) }
}
