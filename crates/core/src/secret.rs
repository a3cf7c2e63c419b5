//! Secret values and secret types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The plaintext of one secret version. Held in a buffer that is wiped on drop; `Debug` and
/// `Display` print a redaction, never the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    /// Wraps bytes that are already secret.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Copies a string into a wiping buffer.
    #[must_use]
    pub fn from_str_value(s: &str) -> Self {
        Self::new(s.as_bytes().to_vec())
    }

    /// The plaintext bytes. Callers must not log or copy them into non-wiping storage.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The plaintext as UTF-8, if it is valid UTF-8.
    #[must_use]
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for an empty value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue([REDACTED; {} bytes])", self.0.len())
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Reads a JSON string into a wiping buffer (request bodies).
impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SecretValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretValue, E> {
                Ok(SecretValue::from_str_value(v))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<SecretValue, E> {
                Ok(SecretValue::new(v.into_bytes()))
            }
        }
        d.deserialize_string(Visitor)
    }
}

/// Writes the value as a JSON string (responses that reveal it, and nothing else).
impl Serialize for SecretValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.expose_str() {
            Some(v) => s.serialize_str(v),
            None => s.serialize_str(&String::from_utf8_lossy(self.expose())),
        }
    }
}

/// The kind of a secret. The union of the types 1Claw's clients send; `generic` is the
/// Python SDK's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretType {
    /// No particular kind (the 1Claw SDK's default).
    Generic,
    /// A password.
    Password,
    /// A provider API key.
    ApiKey,
    /// A private key (PEM or raw).
    PrivateKey,
    /// A certificate.
    Certificate,
    /// A file's content.
    File,
    /// A free-form note.
    Note,
    /// An SSH private key.
    SshKey,
    /// `KEY=VALUE` lines.
    EnvBundle,
    /// `KEY=VALUE` lines (the OpenAPI spelling).
    Env,
    /// A JSON object of fields: what a Vault KV v2 write stores.
    Json,
    /// A GitHub App's id, installation and private key, from which installation tokens are
    /// minted (the key itself is never handed out by minting).
    GithubApp,
}

impl SecretType {
    /// Every type, in the order the API documents them.
    pub const ALL: [SecretType; 12] = [
        Self::Generic,
        Self::Password,
        Self::ApiKey,
        Self::PrivateKey,
        Self::Certificate,
        Self::File,
        Self::Note,
        Self::SshKey,
        Self::EnvBundle,
        Self::Env,
        Self::Json,
        Self::GithubApp,
    ];

    /// The wire name (`api_key`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Password => "password",
            Self::ApiKey => "api_key",
            Self::PrivateKey => "private_key",
            Self::Certificate => "certificate",
            Self::File => "file",
            Self::Note => "note",
            Self::SshKey => "ssh_key",
            Self::EnvBundle => "env_bundle",
            Self::Env => "env",
            Self::Json => "json",
            Self::GithubApp => "github_app",
        }
    }
}

impl fmt::Display for SecretType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A type name that is not one of [`SecretType::ALL`].
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown secret type {0:?}: use one of generic, password, api_key, private_key, certificate, file, note, ssh_key, env_bundle, env, json, github_app"
)]
pub struct UnknownSecretType(pub String);

impl FromStr for SecretType {
    type Err = UnknownSecretType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| UnknownSecretType(s.chars().take(40).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let v = SecretValue::from_str_value("canary-123");
        assert!(!format!("{v:?}").contains("canary"));
        assert!(!format!("{v}").contains("canary"));
        assert_eq!(v.expose(), b"canary-123");
    }

    #[test]
    fn json_round_trip() {
        let v: SecretValue = serde_json::from_str("\"s3cr\\u00e9t\"").unwrap();
        assert_eq!(v.expose_str(), Some("s3cr\u{e9}t"));
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"s3cr\u{e9}t\"");
        assert!(serde_json::from_str::<SecretValue>("12").is_err());
    }

    #[test]
    fn types_round_trip() {
        for t in SecretType::ALL {
            assert_eq!(t.as_str().parse::<SecretType>().unwrap(), t);
        }
        assert!("bogus".parse::<SecretType>().is_err());
    }
}
