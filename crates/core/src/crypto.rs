//! Envelope encryption.
//!
//! A root key (behind the [`RootKey`] provider trait: key file, passphrase, HSM) wraps one
//! random data key per vault; each secret version is sealed under its vault's data key with
//! XChaCha20-Poly1305 and a fresh random 192-bit nonce. The associated data binds the vault id,
//! secret id and version, so a ciphertext copied into another row fails to open.
//!
//! Sealed layout: `[algorithm: 1 byte][nonce: 24 bytes][ciphertext || 16-byte tag]`.

use std::fmt;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::secret::SecretValue;

/// Length of every symmetric key in clawvault (256 bits).
pub const KEY_LEN: usize = 32;
const ALG_XCHACHA20_POLY1305: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;

/// Failures of sealing, opening and key handling. Messages never contain key or plaintext bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The ciphertext did not authenticate: altered, or moved from another vault, secret or version.
    #[error("ciphertext failed authentication: it was altered, or it belongs to another {0}")]
    Authentication(&'static str),
    /// Too short or unknown algorithm byte.
    #[error("ciphertext is malformed ({0})")]
    Malformed(&'static str),
    /// The operating system's random generator failed.
    #[error("the operating system's random number generator failed")]
    Random,
    /// Key material of the wrong length.
    #[error("key material must be {KEY_LEN} bytes, got {0}")]
    KeyLength(usize),
    /// The root key provider failed (HSM unavailable, sealed, ...).
    #[error("root key provider: {0}")]
    Provider(String),
}

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Errors
/// [`CryptoError::Random`] if the OS generator is unavailable.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|_| CryptoError::Random)
}

/// A 256-bit symmetric key (a vault data key, or a software root key). Wiped on drop;
/// `Debug` prints a redaction.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    /// A fresh random key.
    ///
    /// # Errors
    /// [`CryptoError::Random`].
    pub fn generate() -> Result<Self, CryptoError> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        random_bytes(k.as_mut())?;
        Ok(Self(k))
    }

    /// Takes key bytes (copied into a wiping buffer).
    ///
    /// # Errors
    /// [`CryptoError::KeyLength`] unless exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::KeyLength(bytes.len()))?;
        Ok(Self(Zeroizing::new(arr)))
    }

    /// The key bytes.
    #[must_use]
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.0).into())
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

/// Seals `plaintext` under `key` with associated data `aad`.
///
/// # Errors
/// [`CryptoError::Random`] if no nonce can be drawn.
pub fn seal(key: &DataKey, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.push(ALG_XCHACHA20_POLY1305);
    let mut nonce = [0u8; NONCE_LEN];
    random_bytes(&mut nonce)?;
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = key
        .cipher()
        .encrypt_inout_detached(&XNonce::from(nonce), aad, (&mut out[HEADER_LEN..]).into())
        .map_err(|_| CryptoError::Malformed("plaintext too long"))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens what [`seal`] produced. `what` names the binding for the error message
/// ("vault, secret or version").
///
/// # Errors
/// [`CryptoError::Malformed`] or [`CryptoError::Authentication`].
pub fn open(key: &DataKey, sealed: &[u8], aad: &[u8], what: &'static str) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < HEADER_LEN + TAG_LEN {
        return Err(CryptoError::Malformed("too short"));
    }
    if sealed[0] != ALG_XCHACHA20_POLY1305 {
        return Err(CryptoError::Malformed("unknown algorithm"));
    }
    let nonce: [u8; NONCE_LEN] = sealed[1..HEADER_LEN].try_into().map_err(|_| CryptoError::Malformed("nonce"))?;
    let body_end = sealed.len() - TAG_LEN;
    let tag: [u8; TAG_LEN] = sealed[body_end..].try_into().map_err(|_| CryptoError::Malformed("tag"))?;
    let mut buf = Zeroizing::new(sealed[HEADER_LEN..body_end].to_vec());
    key.cipher()
        .decrypt_inout_detached(&XNonce::from(nonce), aad, buf.as_mut_slice().into(), &tag.into())
        .map_err(|_| CryptoError::Authentication(what))?;
    Ok(buf)
}

/// A root key provider: wraps and unwraps data keys. Implementations: a key file (software),
/// a passphrase (Argon2id, later), a PKCS#11 HSM (later). The key itself never leaves the
/// provider.
pub trait RootKey: Send + Sync + 'static {
    /// A short, non-secret identifier of this root key (a fingerprint), stored next to what it
    /// wraps so that rotation knows what to re-wrap.
    fn key_id(&self) -> &str;

    /// Wraps `key`, binding `context` as associated data.
    ///
    /// # Errors
    /// A provider failure.
    fn wrap(&self, key: &DataKey, context: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// Unwraps what [`RootKey::wrap`] produced with the same `context`.
    ///
    /// # Errors
    /// [`CryptoError::Authentication`] if it was wrapped by another key or context.
    fn unwrap(&self, wrapped: &[u8], context: &[u8]) -> Result<DataKey, CryptoError>;
}

/// A root key held in memory (loaded from a key file, or derived from a passphrase).
pub struct SoftwareRootKey {
    key: DataKey,
    id: String,
}

impl SoftwareRootKey {
    /// Wraps raw key bytes; the id is a fingerprint of the key (not reversible).
    #[must_use]
    pub fn new(key: DataKey) -> Self {
        let id = fingerprint(&key);
        Self { key, id }
    }
}

impl fmt::Debug for SoftwareRootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareRootKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// A non-secret fingerprint of a key: the first 8 bytes of HMAC-SHA256(key, label), hex.
#[must_use]
pub fn fingerprint(key: &DataKey) -> String {
    use hmac::{KeyInit as _, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(key.expose()).expect("hmac takes any key length");
    mac.update(b"clawvault/key-fingerprint/v1");
    let out = mac.finalize().into_bytes();
    out[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl RootKey for SoftwareRootKey {
    fn key_id(&self) -> &str {
        &self.id
    }

    fn wrap(&self, key: &DataKey, context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal(&self.key, key.expose(), context)
    }

    fn unwrap(&self, wrapped: &[u8], context: &[u8]) -> Result<DataKey, CryptoError> {
        let raw = open(&self.key, wrapped, context, "root key or context")?;
        DataKey::from_slice(&raw)
    }
}

/// Associated data of a vault's wrapped data key.
#[must_use]
pub fn vault_key_context(vault_id: Uuid) -> Vec<u8> {
    let mut aad = b"clawvault/vault-key/v1\0".to_vec();
    aad.extend_from_slice(vault_id.as_bytes());
    aad
}

/// Where a secret version's ciphertext belongs; its bytes are the associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionBinding {
    /// The vault.
    pub vault_id: Uuid,
    /// The secret (stable across versions).
    pub secret_id: Uuid,
    /// The version number.
    pub version: i64,
}

impl VersionBinding {
    fn aad(&self) -> Vec<u8> {
        let mut aad = b"clawvault/secret-version/v1\0".to_vec();
        aad.extend_from_slice(self.vault_id.as_bytes());
        aad.extend_from_slice(self.secret_id.as_bytes());
        aad.extend_from_slice(&self.version.to_be_bytes());
        aad
    }
}

/// Seals a secret version's value under its vault's data key.
///
/// # Errors
/// [`CryptoError::Random`].
pub fn seal_version(key: &DataKey, at: VersionBinding, value: &SecretValue) -> Result<Vec<u8>, CryptoError> {
    seal(key, value.expose(), &at.aad())
}

/// Opens a secret version's value.
///
/// # Errors
/// [`CryptoError::Authentication`] when the ciphertext was altered or belongs to another
/// vault, secret or version.
pub fn open_version(key: &DataKey, at: VersionBinding, sealed: &[u8]) -> Result<SecretValue, CryptoError> {
    let plain = open(key, sealed, &at.aad(), "vault, secret or version")?;
    Ok(SecretValue::new(plain.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn binding(version: i64) -> VersionBinding {
        VersionBinding { vault_id: Uuid::from_u128(1), secret_id: Uuid::from_u128(2), version }
    }

    #[test]
    fn moved_ciphertext_fails() {
        let k = DataKey::generate().unwrap();
        let v = SecretValue::from_str_value("hello");
        let sealed = seal_version(&k, binding(1), &v).unwrap();
        assert_eq!(open_version(&k, binding(1), &sealed).unwrap(), v);
        let err = open_version(&k, binding(2), &sealed).unwrap_err();
        assert!(matches!(err, CryptoError::Authentication(_)));
        let other = VersionBinding { secret_id: Uuid::from_u128(3), ..binding(1) };
        assert!(open_version(&k, other, &sealed).is_err());
    }

    #[test]
    fn root_key_wraps_and_binds_context() {
        let root = SoftwareRootKey::new(DataKey::generate().unwrap());
        let dek = DataKey::generate().unwrap();
        let ctx = vault_key_context(Uuid::from_u128(9));
        let w = root.wrap(&dek, &ctx).unwrap();
        assert_eq!(root.unwrap(&w, &ctx).unwrap().expose(), dek.expose());
        assert!(root.unwrap(&w, &vault_key_context(Uuid::from_u128(8))).is_err());
        let other = SoftwareRootKey::new(DataKey::generate().unwrap());
        assert!(other.unwrap(&w, &ctx).is_err());
        assert_ne!(root.key_id(), other.key_id());
        assert_eq!(format!("{dek:?}"), "DataKey([REDACTED])");
    }

    #[test]
    fn fresh_nonce_each_time() {
        let k = DataKey::generate().unwrap();
        let v = SecretValue::from_str_value("same");
        assert_ne!(seal_version(&k, binding(1), &v).unwrap(), seal_version(&k, binding(1), &v).unwrap());
    }

    proptest! {
        #[test]
        fn round_trip(value in proptest::collection::vec(any::<u8>(), 0..2048), version in any::<i64>()) {
            let k = DataKey::generate().unwrap();
            let v = SecretValue::new(value);
            let sealed = seal_version(&k, binding(version), &v).unwrap();
            prop_assert_eq!(open_version(&k, binding(version), &sealed).unwrap(), v);
        }

        #[test]
        fn any_flipped_bit_fails(value in proptest::collection::vec(any::<u8>(), 0..256), bit in any::<usize>()) {
            let k = DataKey::generate().unwrap();
            let mut sealed = seal_version(&k, binding(1), &SecretValue::new(value)).unwrap();
            let bit = bit % (sealed.len() * 8);
            sealed[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(open_version(&k, binding(1), &sealed).is_err());
        }
    }
}
