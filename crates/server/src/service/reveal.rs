//! The one way a stored value is opened, for every surface: check that the version may be
//! opened at all, count the opening against its read limit (atomically in the store, so the
//! limit holds across replicas), then decrypt.
//!
//! A value is opened for one of two [`Purpose`]s. *Reveal* hands it back to the caller and
//! needs `read`; *use* puts it where the caller cannot see it (a process environment, a file,
//! an upstream request) and needs `use`, which `read` implies. A surface asks for the purpose
//! it serves, and the permission, scope and audit action follow from it.

use clawvault_core::SecretPath;
use clawvault_core::SecretValue;
use clawvault_core::action::Action;
use clawvault_core::crypto::{VersionBinding, open_version};
use clawvault_core::policy::Permission;
use clawvault_core::scope::Scope;
use clawvault_core::time_util::rfc3339;
use clawvault_store::{SecretRecord, VersionMeta, VersionRecord};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, Hint};
use crate::op::Op;
use crate::state::{AppState, OpenVault};

/// Why a value is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// To hand it back to the caller.
    Reveal,
    /// To use it without the caller seeing it.
    Use,
}

impl Purpose {
    /// The policy permission it needs.
    #[must_use]
    pub const fn permission(self) -> Permission {
        match self {
            Self::Reveal => Permission::Read,
            Self::Use => Permission::Use,
        }
    }

    /// The API key scope it needs.
    #[must_use]
    pub const fn scope(self) -> Scope {
        match self {
            Self::Reveal => Scope::SecretsRead,
            Self::Use => Scope::SecretsUse,
        }
    }

    /// The audit action of a secret opened for it.
    #[must_use]
    pub const fn action(self) -> Action {
        match self {
            Self::Reveal => Action::SecretRead,
            Self::Use => Action::SecretUse,
        }
    }
}

/// What a version's ciphertext is bound to (its AAD).
pub(crate) fn binding(vault: &OpenVault, secret_id: Uuid, version: i64) -> VersionBinding {
    VersionBinding { vault_id: vault.record.id, secret_id, version }
}

/// Refuses with 410 a version that may not be opened: its secret deleted, the version from
/// before a deletion, disabled, expired or read up to its limit.
///
/// # Errors
/// 410 saying why.
pub(crate) fn ensure_openable(secret: &SecretRecord, meta: &VersionMeta, path: &SecretPath) -> ApiResult<()> {
    if secret.deleted_at.is_some() {
        return Err(ApiError::Gone(format!("{path:?} was deleted; an admin can restore it")).hint(Hint::RestoreSecret));
    }
    if meta.version <= secret.deleted_through {
        return Err(ApiError::Gone(format!(
            "version {} of {path:?} is from before the secret was deleted; an admin can restore the old versions",
            meta.version
        ))
        .hint(Hint::RestoreSecret));
    }
    if meta.is_disabled {
        return Err(ApiError::Gone(format!("version {} of {path:?} is disabled", meta.version)));
    }
    if let Some(at) = meta.expires_at
        && at <= OffsetDateTime::now_utc()
    {
        return Err(ApiError::Gone(format!("{path:?} expired at {}", rfc3339(at))));
    }
    // Counts only grow, so a count read at any time that has reached the limit is final; the
    // count that decides is taken atomically when the version is opened.
    if let Some(max) = meta.max_access_count
        && meta.access_count >= max
    {
        return Err(exhausted(path, max));
    }
    Ok(())
}

fn exhausted(path: &SecretPath, max: i64) -> ApiError {
    ApiError::Gone(format!("{path:?} has reached its read limit of {max}"))
}

/// Opens one version: checks it may be opened, counts the opening, decrypts. Returns its
/// metadata with the new count, and the value.
///
/// # Errors
/// 410 (see [`ensure_openable`]), 500 when the ciphertext fails its integrity check, storage
/// failures.
pub(crate) async fn open(
    state: &AppState,
    op: &mut Op<'_>,
    vault: &OpenVault,
    secret: &SecretRecord,
    record: &VersionRecord,
    path: &SecretPath,
) -> ApiResult<(VersionMeta, SecretValue)> {
    ensure_openable(secret, &record.meta, path)?;
    let mut meta = record.meta.clone();
    if let Some(max) = meta.max_access_count {
        match state.store.consume_access(secret.id, meta.version, max).await? {
            Some(n) => meta.access_count = n,
            None => return Err(exhausted(path, max)),
        }
        op.detail("access_count", meta.access_count);
    }
    let value = open_version(&vault.key, binding(vault, secret.id, meta.version), &record.ciphertext).map_err(|e| {
        ApiError::Integrity(format!(
            "version {} of {path:?} cannot be decrypted: {e}. The database was changed outside clawvault; restore it from a backup",
            meta.version
        ))
    })?;
    Ok((meta, value))
}

/// Opens the current version only to recognise it in text that is about to leave or has
/// arrived, never to hand it on: versions that may not be opened, or that have a read limit
/// (recognising must not spend a reading), give `None`; nothing is counted.
///
/// # Errors
/// 500 when the ciphertext fails its integrity check.
pub(crate) fn recognise(
    vault: &OpenVault,
    secret: &SecretRecord,
    record: &VersionRecord,
    path: &SecretPath,
) -> ApiResult<Option<SecretValue>> {
    if record.meta.max_access_count.is_some() || ensure_openable(secret, &record.meta, path).is_err() {
        return Ok(None);
    }
    open_version(&vault.key, binding(vault, secret.id, record.meta.version), &record.ciphertext).map(Some).map_err(
        |e| ApiError::Integrity(format!("version {} of {path:?} cannot be decrypted: {e}", record.meta.version)),
    )
}
