//! Server-side generation of secret values (`secret-rotate`).

use std::str::FromStr;

use crate::crypto::{CryptoError, random_bytes};
use crate::secret::SecretValue;

/// Shortest generated value.
pub const MIN_LENGTH: usize = 8;
/// Longest generated value.
pub const MAX_LENGTH: usize = 1024;
/// Length when none is given.
pub const DEFAULT_LENGTH: usize = 32;

/// The alphabet a generated value is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Charset {
    /// `0-9a-f` (the default).
    #[default]
    Hex,
    /// The standard base64 alphabet `A-Za-z0-9+/`.
    Base64,
    /// `A-Za-z0-9`.
    Alphanumeric,
    /// Printable ASCII without space (`!` to `~`).
    Ascii,
}

impl Charset {
    fn alphabet(self) -> Vec<u8> {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        match self {
            Self::Hex => b"0123456789abcdef".to_vec(),
            Self::Base64 => [ALNUM, b"+/"].concat(),
            Self::Alphanumeric => ALNUM.to_vec(),
            Self::Ascii => (b'!'..=b'~').collect(),
        }
    }
}

/// A charset name that is not known.
#[derive(Debug, thiserror::Error)]
#[error("unknown charset: use hex, base64, alphanumeric or ascii")]
pub struct UnknownCharset;

impl FromStr for Charset {
    type Err = UnknownCharset;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hex" => Ok(Self::Hex),
            "base64" => Ok(Self::Base64),
            "alphanumeric" => Ok(Self::Alphanumeric),
            "ascii" => Ok(Self::Ascii),
            _ => Err(UnknownCharset),
        }
    }
}

/// Errors of [`generate`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// Length outside [`MIN_LENGTH`]..=[`MAX_LENGTH`].
    #[error("length must be between {MIN_LENGTH} and {MAX_LENGTH}, got {0}")]
    Length(usize),
    /// An alphabet that is empty or holds a byte twice (which would bias the draw).
    #[error("the characters to draw from must be 1 to 256 distinct bytes")]
    Alphabet,
    /// No randomness.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Draws `length` characters uniformly from `charset` (rejection sampling, no modulo bias).
///
/// # Errors
/// [`GenerateError::Length`] or a randomness failure.
pub fn generate(length: usize, charset: Charset) -> Result<SecretValue, GenerateError> {
    generate_from(length, &charset.alphabet())
}

/// Draws `length` characters uniformly from `alphabet` (distinct bytes), as [`generate`]
/// does from a named charset: for recipes that name their own characters.
///
/// # Errors
/// [`GenerateError::Length`], [`GenerateError::Alphabet`] or a randomness failure.
pub fn generate_from(length: usize, alphabet: &[u8]) -> Result<SecretValue, GenerateError> {
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        return Err(GenerateError::Length(length));
    }
    let distinct: std::collections::BTreeSet<u8> = alphabet.iter().copied().collect();
    if alphabet.is_empty() || distinct.len() != alphabet.len() {
        return Err(GenerateError::Alphabet);
    }
    let n = alphabet.len();
    // Largest multiple of n that fits in a byte: bytes at or above it are rejected.
    let limit = 256 - (256 % n);
    let mut out = Vec::with_capacity(length);
    let mut pool = zeroize::Zeroizing::new([0u8; 64]);
    while out.len() < length {
        random_bytes(pool.as_mut())?;
        for &b in pool.iter() {
            if usize::from(b) < limit && out.len() < length {
                out.push(alphabet[usize::from(b) % n]);
            }
        }
    }
    Ok(SecretValue::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_alphabets() {
        for cs in [Charset::Hex, Charset::Base64, Charset::Alphanumeric, Charset::Ascii] {
            let v = generate(100, cs).unwrap();
            assert_eq!(v.len(), 100);
            let alpha = cs.alphabet();
            assert!(v.expose().iter().all(|b| alpha.contains(b)));
        }
        assert!(generate(7, Charset::Hex).is_err());
        assert!(generate(1025, Charset::Hex).is_err());
        let v = generate_from(64, b"xy").unwrap();
        assert!(v.expose().iter().all(|b| *b == b'x' || *b == b'y'));
        assert!(matches!(generate_from(16, b""), Err(GenerateError::Alphabet)));
        assert!(matches!(generate_from(16, b"aa"), Err(GenerateError::Alphabet)));
        assert_ne!(generate(32, Charset::Hex).unwrap(), generate(32, Charset::Hex).unwrap());
    }
}
