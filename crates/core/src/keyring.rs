//! The server master secret and the subkeys derived from it.
//!
//! One random 256-bit master secret is generated when a data directory is initialised and
//! stored only wrapped by the root key. Purpose-bound subkeys are derived from it with
//! HKDF-SHA256, so the audit chain key and the API-key hashing key are "derived from the root
//! key" without the root key ever having to leave its provider (an HSM cannot export it), and
//! rotating the root key re-wraps one value without changing any derived key.

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::crypto::{CryptoError, DataKey, KEY_LEN, RootKey};

/// Associated data of the wrapped master secret.
pub const MASTER_CONTEXT: &[u8] = b"clawvault/master-secret/v1";

/// What a derived subkey is for; the label is part of the derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// HMAC-SHA256 key of the audit hash chain.
    AuditChain,
    /// HMAC-SHA256 key for hashing API keys at rest.
    ApiKeyHash,
    /// XChaCha20-Poly1305 key holding an approved agent's key until its one delivery.
    EnrollmentKeySeal,
    /// HMAC-SHA256 key turning a share's id (a capability) into the id of its row.
    ShareIdHash,
    /// XChaCha20-Poly1305 key holding a share's id for listing it to its creator.
    ShareIdSeal,
    /// HMAC-SHA256 key turning a secret request's link token into the id of its row, and
    /// binding the request page's CSRF token to the browser that loaded it.
    SecretRequestLink,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::AuditChain => b"clawvault/audit-chain/v1",
            Self::ApiKeyHash => b"clawvault/api-key-hash/v1",
            Self::EnrollmentKeySeal => b"clawvault/enrollment-key-seal/v1",
            Self::ShareIdHash => b"clawvault/share-id-hash/v1",
            Self::ShareIdSeal => b"clawvault/share-id-seal/v1",
            Self::SecretRequestLink => b"clawvault/secret-request-link/v1",
        }
    }
}

/// A derived 256-bit subkey. Wiped on drop, redacted in `Debug`.
#[derive(Clone)]
pub struct SubKey(Zeroizing<[u8; KEY_LEN]>);

impl SubKey {
    /// The key bytes.
    #[must_use]
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A subkey from raw bytes (tests and fixtures).
    #[must_use]
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl fmt::Debug for SubKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubKey([REDACTED])")
    }
}

/// The unwrapped master secret.
pub struct MasterSecret(DataKey);

impl fmt::Debug for MasterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterSecret([REDACTED])")
    }
}

impl MasterSecret {
    /// Generates a master secret and wraps it under `root`; returns both.
    ///
    /// # Errors
    /// Random or provider failures.
    pub fn generate(root: &dyn RootKey) -> Result<(Self, Vec<u8>), CryptoError> {
        let key = DataKey::generate()?;
        let wrapped = root.wrap(&key, MASTER_CONTEXT)?;
        Ok((Self(key), wrapped))
    }

    /// Unwraps a stored master secret.
    ///
    /// # Errors
    /// [`CryptoError::Authentication`] if `root` is not the key it was wrapped with.
    pub fn unwrap(root: &dyn RootKey, wrapped: &[u8]) -> Result<Self, CryptoError> {
        root.unwrap(wrapped, MASTER_CONTEXT).map(Self)
    }

    /// Derives the subkey for `purpose`.
    #[must_use]
    pub fn derive(&self, purpose: Purpose) -> SubKey {
        let hk = Hkdf::<Sha256>::new(None, self.0.expose());
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        if hk.expand(purpose.label(), out.as_mut()).is_err() {
            unreachable!("HKDF output length is constant and valid");
        }
        SubKey(out)
    }
}

/// A data key derived from a credential held elsewhere (an agent's key in a file), for data
/// that credential's holder keeps at rest (the sync daemon's offline cache): whoever has the
/// credential can open it, and nobody without it. `label` separates the uses.
#[must_use]
pub fn key_from_credential(credential: &[u8], label: &[u8]) -> crate::crypto::DataKey {
    let hk = Hkdf::<Sha256>::new(Some(b"clawvault credential-derived key"), credential);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    if hk.expand(label, out.as_mut()).is_err() {
        unreachable!("HKDF output length is constant and valid");
    }
    match crate::crypto::DataKey::from_slice(out.as_ref()) {
        Ok(k) => k,
        Err(_) => unreachable!("the output has a key's length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SoftwareRootKey;

    #[test]
    fn credential_keys_depend_on_credential_and_label() {
        let a = key_from_credential(b"ocv_one", b"sync cache");
        assert_eq!(a.expose(), key_from_credential(b"ocv_one", b"sync cache").expose());
        assert_ne!(a.expose(), key_from_credential(b"ocv_two", b"sync cache").expose());
        assert_ne!(a.expose(), key_from_credential(b"ocv_one", b"other").expose());
    }

    #[test]
    fn derivation_is_stable_and_purpose_bound() {
        let root = SoftwareRootKey::new(DataKey::generate().unwrap());
        let (m, wrapped) = MasterSecret::generate(&root).unwrap();
        let again = MasterSecret::unwrap(&root, &wrapped).unwrap();
        assert_eq!(m.derive(Purpose::AuditChain).expose(), again.derive(Purpose::AuditChain).expose());
        assert_ne!(m.derive(Purpose::AuditChain).expose(), m.derive(Purpose::ApiKeyHash).expose());
    }
}
