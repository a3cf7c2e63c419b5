//! API keys: `1ck_` (users) and `ocv_` (agents) followed by base64url of 32 random bytes.
//! Only a keyed hash (HMAC-SHA256 under a subkey of the master secret) is stored, so a copy
//! of the database does not yield usable keys, and lookups stay a single indexed equality.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto::{CryptoError, random_bytes};
use crate::keyring::SubKey;

/// How many leading characters of a key are kept in clear as its display prefix.
pub const PREFIX_LEN: usize = 12;

/// Whose key it is; the prefix tells clients how to exchange it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A user's key, `1ck_…`.
    User,
    /// An agent's key, `ocv_…`.
    Agent,
}

impl KeyKind {
    /// The literal prefix.
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Self::User => "1ck_",
            Self::Agent => "ocv_",
        }
    }

    /// The kind a presented key claims by its prefix.
    #[must_use]
    pub fn of(key: &str) -> Option<Self> {
        if key.starts_with("1ck_") {
            Some(Self::User)
        } else if key.starts_with("ocv_") {
            Some(Self::Agent)
        } else {
            None
        }
    }
}

/// A full API key, shown once. Wiped on drop, redacted in `Debug`.
#[derive(Clone)]
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    /// Mints a fresh key.
    ///
    /// # Errors
    /// [`CryptoError::Random`].
    pub fn generate(kind: KeyKind) -> Result<Self, CryptoError> {
        let mut raw = Zeroizing::new([0u8; 32]);
        random_bytes(raw.as_mut())?;
        let mut s = String::with_capacity(48);
        s.push_str(kind.prefix());
        URL_SAFE_NO_PAD.encode_string(raw.as_ref(), &mut s);
        Ok(Self(Zeroizing::new(s)))
    }

    /// Wraps a key presented by a client.
    #[must_use]
    pub fn from_presented(s: &str) -> Self {
        Self(Zeroizing::new(s.to_owned()))
    }

    /// The full key text (show it once, never log it).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The non-secret display prefix (`1ck_AbCdEfGh`).
    #[must_use]
    pub fn display_prefix(&self) -> String {
        self.0.chars().take(PREFIX_LEN).collect()
    }

    /// The keyed hash stored at rest.
    #[must_use]
    pub fn hash(&self, key: &SubKey) -> [u8; 32] {
        let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(key.expose()).expect("hmac takes any key length");
        mac.update(self.0.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether this key hashes to `stored`, compared in constant time.
    #[must_use]
    pub fn matches(&self, key: &SubKey, stored: &[u8]) -> bool {
        self.hash(key).ct_eq(stored).into()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_hash_and_redaction() {
        let k = ApiKey::generate(KeyKind::User).unwrap();
        assert!(k.expose().starts_with("1ck_"));
        assert_eq!(k.expose().len(), 4 + 43);
        assert_eq!(KeyKind::of(k.expose()), Some(KeyKind::User));
        let sub = SubKey::from_bytes([7; 32]);
        let h = k.hash(&sub);
        assert!(k.matches(&sub, &h));
        assert!(!ApiKey::generate(KeyKind::User).unwrap().matches(&sub, &h));
        assert!(!k.matches(&SubKey::from_bytes([8; 32]), &h));
        assert_eq!(format!("{k:?}"), "ApiKey([REDACTED])");
        assert_eq!(k.display_prefix().len(), PREFIX_LEN);
    }
}
