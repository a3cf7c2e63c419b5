//! Scopes of a user's API key: what requests a token made from that key may make, on top of
//! what the user may do. A key without scopes may do everything its user may; a key with
//! scopes only what they name, so a key handed to a CI job can be read-only. Names are
//! `area:action`. Agents' `scopes` are 1Claw's path globs, recorded, and are not these.

use std::fmt;
use std::str::FromStr;

/// One scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Reveal secret values, list secrets and versions.
    SecretsRead,
    /// Use secret values without revealing them (implied by `secrets:read`).
    SecretsUse,
    /// Write, rotate, disable, delete and restore secrets.
    SecretsWrite,
    /// List shares, open those addressed to you.
    SharesRead,
    /// Create, accept, decline and revoke shares.
    SharesWrite,
    /// List and show vaults.
    VaultsRead,
    /// Create and delete vaults.
    VaultsWrite,
    /// List policies.
    PoliciesRead,
    /// Create, change and delete policies.
    PoliciesWrite,
    /// List and show agents and enrollment requests.
    AgentsRead,
    /// Create, change, re-key and delete agents; decide enrollments.
    AgentsWrite,
    /// List users.
    UsersRead,
    /// Create and delete users.
    UsersWrite,
    /// Read and verify the audit trail.
    AuditRead,
    /// List your API keys.
    KeysRead,
    /// Create and delete API keys; rotate the token signing key.
    KeysWrite,
    /// List and show proxy routes and their usage.
    ProxyRead,
    /// Create, replace and delete proxy routes.
    ProxyWrite,
}

impl Scope {
    /// Every scope, in the order they are listed to users.
    pub const ALL: [Scope; 18] = [
        Self::SecretsRead,
        Self::SecretsUse,
        Self::SecretsWrite,
        Self::SharesRead,
        Self::SharesWrite,
        Self::VaultsRead,
        Self::VaultsWrite,
        Self::PoliciesRead,
        Self::PoliciesWrite,
        Self::AgentsRead,
        Self::AgentsWrite,
        Self::UsersRead,
        Self::UsersWrite,
        Self::AuditRead,
        Self::KeysRead,
        Self::KeysWrite,
        Self::ProxyRead,
        Self::ProxyWrite,
    ];

    /// The name (`secrets:read`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecretsRead => "secrets:read",
            Self::SecretsUse => "secrets:use",
            Self::SecretsWrite => "secrets:write",
            Self::SharesRead => "shares:read",
            Self::SharesWrite => "shares:write",
            Self::VaultsRead => "vaults:read",
            Self::VaultsWrite => "vaults:write",
            Self::PoliciesRead => "policies:read",
            Self::PoliciesWrite => "policies:write",
            Self::AgentsRead => "agents:read",
            Self::AgentsWrite => "agents:write",
            Self::UsersRead => "users:read",
            Self::UsersWrite => "users:write",
            Self::AuditRead => "audit:read",
            Self::KeysRead => "keys:read",
            Self::KeysWrite => "keys:write",
            Self::ProxyRead => "proxy:read",
            Self::ProxyWrite => "proxy:write",
        }
    }

    /// Every name, comma-separated (for error messages).
    #[must_use]
    pub fn names() -> String {
        Self::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Whether a credential with `granted` scopes (names; empty: unrestricted) may act with
    /// `self`. `secrets:read` covers `secrets:use`: whoever may reveal a value may use it.
    #[must_use]
    pub fn allowed_by(self, granted: &[String]) -> bool {
        granted.is_empty()
            || granted
                .iter()
                .any(|g| g == self.as_str() || (self == Self::SecretsUse && g == Self::SecretsRead.as_str()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name that is not one of [`Scope::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope {0:?} is unknown; the scopes are {names}", names = Scope::names())]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
        }
        let err = "secrets:admin".parse::<Scope>().unwrap_err().to_string();
        assert!(err.contains("\"secrets:admin\" is unknown") && err.contains("secrets:read, secrets:use"), "{err}");
    }

    #[test]
    fn empty_means_everything_and_read_covers_use() {
        assert!(Scope::SecretsWrite.allowed_by(&[]));
        let read_only = vec!["secrets:read".to_owned(), "vaults:read".to_owned()];
        assert!(Scope::SecretsRead.allowed_by(&read_only));
        assert!(Scope::SecretsUse.allowed_by(&read_only));
        assert!(!Scope::SecretsWrite.allowed_by(&read_only));
        assert!(!Scope::SecretsRead.allowed_by(&["secrets:use".to_owned()]));
    }
}
