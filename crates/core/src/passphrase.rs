//! Passphrases that guard shares, stored as Argon2id PHC strings (RFC 9106, the crate's
//! default parameters: 19 MiB, 2 passes, 1 lane) with a random salt. Verification is
//! deliberately slow: callers run it off the async threads.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::secret::SecretValue;

/// Shortest passphrase accepted, in characters other than white space and control
/// characters (eight spaces guard nothing).
pub const MIN_LEN: usize = 8;

/// Why a passphrase could not be hashed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PassphraseError {
    /// Shorter than [`MIN_LEN`].
    #[error("passphrase must be at least {MIN_LEN} characters, not counting spaces")]
    TooShort,
    /// Hashing failed (randomness).
    #[error("passphrase could not be hashed")]
    Hash,
}

/// Hashes a passphrase to a PHC string.
///
/// # Errors
/// [`PassphraseError`].
pub fn hash(passphrase: &SecretValue) -> Result<String, PassphraseError> {
    // Counted in place: a lossy copy would leave the passphrase in memory unzeroized.
    let counted =
        passphrase.expose_str().map_or(0, |s| s.chars().filter(|c| !c.is_whitespace() && !c.is_control()).count());
    if counted < MIN_LEN {
        return Err(PassphraseError::TooShort);
    }
    Argon2::default().hash_password(passphrase.expose()).map(|h| h.to_string()).map_err(|_| PassphraseError::Hash)
}

/// Whether `passphrase` matches a stored PHC string (false for a malformed one).
#[must_use]
pub fn verify(passphrase: &SecretValue, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| Argon2::default().verify_password(passphrase.expose(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let p = SecretValue::from_str_value("correct horse battery");
        let h = hash(&p).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("correct"));
        assert!(verify(&p, &h));
        assert!(!verify(&SecretValue::from_str_value("wrong horse battery"), &h));
        assert!(!verify(&p, "not a hash"));
        for short in ["short", "éééé", "        ", "\0\0\0\0\0\0\0\0", "abc  def\n"] {
            assert!(matches!(hash(&SecretValue::from_str_value(short)), Err(PassphraseError::TooShort)), "{short:?}");
        }
        assert!(hash(&SecretValue::from_str_value("ééééèèèè")).is_ok(), "characters, not bytes");
    }
}
