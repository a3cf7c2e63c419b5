//! Secret request links are capabilities: whoever holds one may store a value in its asker's
//! name, once. So the database never holds the token, only a keyed hash of it (the row id), and
//! the page's CSRF token is a keyed hash of the row and of a nonce kept in the browser's
//! cookie, so that another site can neither forge the form nor replay a token it scraped.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clawvault_core::crypto::random_bytes;
use clawvault_core::keyring::SubKey;
use hmac::{KeyInit, Mac};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// Random bytes in a link token (and in a CSRF nonce): 256 bits.
const TOKEN_BYTES: usize = 32;

/// The key of secret request links.
pub struct RequestLinks {
    key: SubKey,
}

impl std::fmt::Debug for RequestLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestLinks([REDACTED])")
    }
}

impl RequestLinks {
    /// From the derived key.
    #[must_use]
    pub fn new(key: SubKey) -> Self {
        Self { key }
    }

    fn mac(&self, domain: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(self.key.expose()).expect("hmac takes any key length");
        mac.update(domain);
        for part in parts {
            // Length-prefixed, so that no two different part lists hash alike.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// A fresh random token (URL-safe base64) for a link or a CSRF nonce.
    ///
    /// # Errors
    /// Randomness failures.
    pub fn token() -> ApiResult<String> {
        let mut bytes = [0u8; TOKEN_BYTES];
        random_bytes(&mut bytes).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The id of the row of the request whose link token is `token`.
    #[must_use]
    pub fn row(&self, token: &str) -> Uuid {
        let digest = self.mac(b"row", &[token.as_bytes()]);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    }

    /// The CSRF token of the page of `row` for the browser holding `nonce`, showing the
    /// secret at `version`: a form shown before the secret changed does not verify after.
    #[must_use]
    pub fn csrf(&self, row: Uuid, nonce: &str, version: i64) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(b"csrf", &[row.as_bytes(), nonce.as_bytes(), &version.to_be_bytes()]))
    }

    /// Whether `given` is the CSRF token of `row` for `nonce` and `version` (in constant time).
    #[must_use]
    pub fn csrf_matches(&self, row: Uuid, nonce: &str, version: i64, given: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        self.csrf(row, nonce, version).as_bytes().ct_eq(given.as_bytes()).into()
    }

    /// Whether `nonce` looks like one [`Self::token`] made (a cookie is the browser's to
    /// write: anything else is replaced).
    #[must_use]
    pub fn is_token(nonce: &str) -> bool {
        nonce.len() == 43 && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_csrf_tokens_are_keyed_and_bound() {
        let links = RequestLinks::new(SubKey::from_bytes([7; 32]));
        let token = RequestLinks::token().unwrap();
        assert_eq!(token.len(), 43);
        assert_ne!(RequestLinks::token().unwrap(), token, "random");
        let row = links.row(&token);
        assert_eq!(row, links.row(&token), "stable");
        assert_ne!(RequestLinks::new(SubKey::from_bytes([8; 32])).row(&token), row, "keyed");
        let csrf = links.csrf(row, "nonce-a", 2);
        assert!(links.csrf_matches(row, "nonce-a", 2, &csrf));
        assert!(!links.csrf_matches(row, "nonce-b", 2, &csrf), "bound to the browser's nonce");
        assert!(!links.csrf_matches(Uuid::new_v4(), "nonce-a", 2, &csrf), "bound to the request");
        assert!(!links.csrf_matches(row, "nonce-a", 3, &csrf), "bound to the version shown");
        assert!(!links.csrf_matches(row, "nonce-a", 2, ""));
        assert!(RequestLinks::is_token(&token));
        assert!(!RequestLinks::is_token("short") && !RequestLinks::is_token(&"=".repeat(43)));
    }
}
