//! How typed record fields are written as stored text, and read back, for both backends: a
//! value that does not decode is [`StoreError::Corrupt`], never a guess.

use clawvault_core::policy::{Conditions, Effect, Permission};

use crate::{PrincipalKind, RecipientType, StoreError};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("stored {what} is not one clawvault writes"))
}

/// Permission names, in order.
#[must_use]
pub fn permission_names(permissions: &[Permission]) -> Vec<String> {
    permissions.iter().map(|p| p.as_str().to_owned()).collect()
}

/// Permissions from their stored names.
///
/// # Errors
/// [`StoreError::Corrupt`] for a name that is no permission.
pub fn permissions(names: &[String]) -> Result<Vec<Permission>, StoreError> {
    names.iter().map(|n| n.parse().map_err(|_| corrupt("policy permission"))).collect()
}

/// An effect from its stored name.
///
/// # Errors
/// [`StoreError::Corrupt`].
pub fn effect(name: &str) -> Result<Effect, StoreError> {
    name.parse().map_err(|_| corrupt("policy effect"))
}

/// Conditions as stored text (a JSON object).
#[must_use]
pub fn conditions_text(conditions: &Conditions) -> String {
    conditions.to_json().to_string()
}

/// Conditions from stored text, validated as when they were written.
///
/// # Errors
/// [`StoreError::Corrupt`].
pub fn conditions(text: &str) -> Result<Conditions, StoreError> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|_| corrupt("policy conditions"))?;
    Conditions::from_json(&json).map_err(|_| corrupt("policy conditions"))
}

/// A principal kind from its stored name; `what` names the column in the error.
///
/// # Errors
/// [`StoreError::Corrupt`].
pub fn principal_kind(name: &str, what: &str) -> Result<PrincipalKind, StoreError> {
    PrincipalKind::parse(name).ok_or_else(|| corrupt(what))
}

/// A recipient type from its stored name.
///
/// # Errors
/// [`StoreError::Corrupt`].
pub fn recipient_type(name: &str) -> Result<RecipientType, StoreError> {
    RecipientType::parse(name).ok_or_else(|| corrupt("share recipient type"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check
mod tests {
    #[test]
    fn unknown_stored_values_are_corrupt() {
        assert!(super::permissions(&["read".into(), "sudo".into()]).is_err());
        assert!(super::effect("maybe").is_err());
        assert!(super::conditions("{\"ip_allowlist\": [\"not an address\"]}").is_err());
        assert!(super::conditions("{\"when\": 1}").is_err());
        assert!(super::principal_kind("robot", "kind").is_err());
        assert!(super::recipient_type("external_email").is_err());
        let c = super::conditions("{\"ip_allowlist\": [\"10.0.0.1\"]}").unwrap();
        assert_eq!(super::conditions_text(&c), "{\"ip_allowlist\":[\"10.0.0.1\"]}");
        assert_eq!(super::conditions_text(&super::conditions("{}").unwrap()), "{}");
    }
}
