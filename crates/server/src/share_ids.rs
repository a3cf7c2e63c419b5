//! Share ids are capabilities: whoever knows a link share's id may open it. So the database
//! never holds one. A share's row is keyed by a keyed hash of its id (HMAC-SHA256 under a key
//! derived from the master secret, the way API keys are stored), and the id itself is kept
//! only sealed (XChaCha20-Poly1305, bound to the row), so that its creator can still list it.
//! A copy of the database without the root key yields neither.

use clawvault_core::crypto::{DataKey, open, seal};
use clawvault_core::keyring::SubKey;
use hmac::{KeyInit, Mac};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The keys of share ids.
pub struct ShareIds {
    hash: SubKey,
    seal: DataKey,
}

impl std::fmt::Debug for ShareIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareIds([REDACTED])")
    }
}

impl ShareIds {
    /// From the derived keys.
    #[must_use]
    pub fn new(hash: SubKey, seal: DataKey) -> Self {
        Self { hash, seal }
    }

    /// The id of the row of the share whose id is `id`.
    #[must_use]
    pub fn row(&self, id: Uuid) -> Uuid {
        let mut mac =
            <hmac::Hmac<sha2::Sha256>>::new_from_slice(self.hash.expose()).expect("hmac takes any key length");
        mac.update(id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }

    /// `id` sealed for its row.
    ///
    /// # Errors
    /// Randomness failures.
    pub fn seal(&self, id: Uuid, row: Uuid) -> ApiResult<Vec<u8>> {
        seal(&self.seal, id.as_bytes(), row.as_bytes()).map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// The id sealed in `row`'s record.
    ///
    /// # Errors
    /// [`ApiError::Integrity`] when it does not open (the row was altered or moved).
    pub fn open(&self, sealed: &[u8], row: Uuid) -> ApiResult<Uuid> {
        let plain = open(&self.seal, sealed, row.as_bytes(), "share id")
            .map_err(|e| ApiError::Integrity(format!("the id of share row {row} cannot be unsealed: {e}")))?;
        Uuid::from_slice(&plain)
            .map_err(|_| ApiError::Integrity(format!("the sealed id of share row {row} is malformed")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_keyed_hashes_and_ids_open_only_for_their_row() {
        let ids = ShareIds::new(SubKey::from_bytes([7; 32]), DataKey::generate().unwrap());
        let id = Uuid::new_v4();
        let row = ids.row(id);
        assert_ne!(row, id);
        assert_eq!(row, ids.row(id), "stable");
        let other = ShareIds::new(SubKey::from_bytes([8; 32]), DataKey::generate().unwrap());
        assert_ne!(other.row(id), row, "keyed");
        let sealed = ids.seal(id, row).unwrap();
        assert!(!sealed.windows(16).any(|w| w == id.as_bytes()));
        assert_eq!(ids.open(&sealed, row).unwrap(), id);
        assert!(ids.open(&sealed, Uuid::new_v4()).is_err(), "bound to its row");
    }
}
