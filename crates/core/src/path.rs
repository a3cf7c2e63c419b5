//! Secret paths and vault names: the rules, checked once at the edge, with errors that say
//! which rule a value broke.

use std::fmt;

/// The longest secret path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 512;
/// The longest vault name accepted, in bytes.
pub const MAX_VAULT_NAME_LEN: usize = 64;

/// Names that collide with first path segments of the native or Vault-compatible APIs, so a
/// vault (which is also a Vault KV mount) may not take them.
pub const RESERVED_VAULT_NAMES: &[&str] = &[
    "agents",
    "api",
    "audit",
    "auth",
    "cubbyhole",
    "enroll",
    "events",
    "health",
    "identity",
    "jwks",
    "mcp",
    "metrics",
    "openapi",
    "proxy",
    "secrets",
    "share",
    "shares",
    "sys",
    "ui",
    "users",
    "v1",
    "vaults",
    "well-known",
];

/// Why a path or name was refused. Each variant names one rule; messages never echo more
/// than a short, escaped excerpt of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path is empty.
    #[error("secret path is empty: give a path such as `api-keys/openai`")]
    Empty,
    /// Longer than [`MAX_PATH_LEN`].
    #[error("secret path is {0} bytes long; the limit is {MAX_PATH_LEN}")]
    TooLong(usize),
    /// Starts with `/`.
    #[error("secret path must not start with `/`")]
    LeadingSlash,
    /// Ends with `/`.
    #[error("secret path must not end with `/`")]
    TrailingSlash,
    /// Contains `//`.
    #[error("secret path has an empty segment (`//`)")]
    EmptySegment,
    /// A segment is `.` or `..`.
    #[error("secret path segments `.` and `..` are not allowed")]
    DotSegment,
    /// A control character (including NUL, newline, tab, DEL).
    #[error("secret path contains a control character (U+{0:04X})")]
    ControlCharacter(u32),
    /// Any other character outside the allowed set.
    #[error("secret path contains {0:?}: use letters, digits, `-`, `_`, `.` and `/` between segments")]
    InvalidCharacter(char),
}

/// A validated secret path: `/`-separated segments of `[A-Za-z0-9._-]`, no `.`/`..` segments,
/// no empty segments, no leading or trailing `/`, at most [`MAX_PATH_LEN`] bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretPath(String);

impl SecretPath {
    /// Checks `raw` against the path rules.
    ///
    /// # Errors
    /// The first rule the path breaks, in the order: empty, length, control characters,
    /// leading/trailing slash, empty segment, dot segment, other characters.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        if raw.is_empty() {
            return Err(PathError::Empty);
        }
        if raw.len() > MAX_PATH_LEN {
            return Err(PathError::TooLong(raw.len()));
        }
        if let Some(c) = raw.chars().find(|c| c.is_control()) {
            return Err(PathError::ControlCharacter(u32::from(c)));
        }
        if raw.starts_with('/') {
            return Err(PathError::LeadingSlash);
        }
        if raw.ends_with('/') {
            return Err(PathError::TrailingSlash);
        }
        for segment in raw.split('/') {
            if segment.is_empty() {
                return Err(PathError::EmptySegment);
            }
            if segment == "." || segment == ".." {
                return Err(PathError::DotSegment);
            }
            if let Some(c) = segment.chars().find(|c| !is_path_char(*c)) {
                return Err(PathError::InvalidCharacter(c));
            }
        }
        Ok(Self(raw.to_owned()))
    }

    /// The path as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path's segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

impl fmt::Display for SecretPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SecretPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Why a vault name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VaultNameError {
    /// Empty or longer than [`MAX_VAULT_NAME_LEN`].
    #[error("vault name must be 1 to {MAX_VAULT_NAME_LEN} characters long")]
    Length,
    /// A character outside `[A-Za-z0-9_-]`, or a name that does not start with a letter or digit.
    #[error(
        "vault name may use letters, digits, `-` and `_`, and must start with a letter or digit (it is also a URL segment and a Vault mount name)"
    )]
    Characters,
    /// A name the HTTP APIs use for themselves.
    #[error("vault name {0:?} is reserved by clawvault's APIs; choose another name")]
    Reserved(String),
    /// A name that reads as a vault id: URLs take either, so it would name another vault.
    #[error("a vault name cannot look like a vault id (a UUID); choose another name")]
    LooksLikeId,
}

/// A validated vault name (also its mount name in the Vault-compatible API).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct VaultName(String);

impl VaultName {
    /// Checks a vault name.
    ///
    /// # Errors
    /// The rule the name breaks.
    pub fn parse(raw: &str) -> Result<Self, VaultNameError> {
        if raw.is_empty() || raw.len() > MAX_VAULT_NAME_LEN {
            return Err(VaultNameError::Length);
        }
        let starts_ok = raw.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !starts_ok || !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(VaultNameError::Characters);
        }
        if RESERVED_VAULT_NAMES.contains(&raw.to_ascii_lowercase().as_str()) {
            return Err(VaultNameError::Reserved(raw.to_owned()));
        }
        if uuid::Uuid::parse_str(raw).is_ok() {
            return Err(VaultNameError::LooksLikeId);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VaultName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for p in ["a", "api-keys/openai", "x/y_z/v1.2", "A/B-c/d.e.f"] {
            assert!(SecretPath::parse(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn each_rule_is_named() {
        let long = "a".repeat(MAX_PATH_LEN + 1);
        let cases: &[(&str, PathError)] = &[
            ("", PathError::Empty),
            (&long, PathError::TooLong(MAX_PATH_LEN + 1)),
            ("/a", PathError::LeadingSlash),
            ("a/", PathError::TrailingSlash),
            ("a//b", PathError::EmptySegment),
            ("a/./b", PathError::DotSegment),
            ("a/../b", PathError::DotSegment),
            ("..", PathError::DotSegment),
            ("a\nb", PathError::ControlCharacter(0x0a)),
            ("a\0b", PathError::ControlCharacter(0)),
            ("a b", PathError::InvalidCharacter(' ')),
            ("a%2fb", PathError::InvalidCharacter('%')),
            ("a*", PathError::InvalidCharacter('*')),
        ];
        for (raw, want) in cases {
            assert_eq!(SecretPath::parse(raw).unwrap_err(), *want, "{raw:?}");
        }
    }

    #[test]
    fn vault_names() {
        assert!(VaultName::parse("prod-bots_1").is_ok());
        assert_eq!(VaultName::parse("").unwrap_err(), VaultNameError::Length);
        assert_eq!(VaultName::parse("-x").unwrap_err(), VaultNameError::Characters);
        assert_eq!(VaultName::parse("a b").unwrap_err(), VaultNameError::Characters);
        assert!(matches!(VaultName::parse("Sys"), Err(VaultNameError::Reserved(_))));
        assert!(matches!(VaultName::parse("auth"), Err(VaultNameError::Reserved(_))));
        for id in ["6f1c2c1e-3f7a-4b9e-9a51-0c2d8e7f1a2b", "6f1c2c1e3f7a4b9e9a510c2d8e7f1a2b"] {
            assert!(matches!(VaultName::parse(id), Err(VaultNameError::LooksLikeId)), "{id}");
        }
    }
}
