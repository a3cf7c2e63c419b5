//! age encryption of whole byte strings: bundles are sealed with it, and agenix's `*.age`
//! files (binary or `age -a` armored) are opened with it.

use std::io::{Read as _, Write as _};

use zeroize::Zeroizing;

use crate::{BundleError, Identities, Recipients};

/// Encrypts `plaintext` to every recipient (binary age format, as `age -r` writes).
///
/// # Errors
/// No recipient.
pub fn seal(plaintext: &[u8], recipients: &Recipients) -> Result<Vec<u8>, BundleError> {
    if recipients.is_empty() {
        return Err(BundleError::NoRecipient);
    }
    let encryptor = age::Encryptor::with_recipients(recipients.iter()).map_err(|_| BundleError::NoRecipient)?;
    let mut sealed = Vec::with_capacity(plaintext.len() + 256);
    let mut writer = encryptor.wrap_output(&mut sealed)?;
    writer.write_all(plaintext)?;
    writer.finish()?;
    Ok(sealed)
}

/// Decrypts an age file (binary or armored) with the first identity that opens it.
///
/// # Errors
/// Not age, encrypted to a passphrase, no identity opens it, damaged or truncated.
pub fn open(sealed: &[u8], identities: &Identities) -> Result<Zeroizing<Vec<u8>>, BundleError> {
    let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(sealed)).map_err(|_| BundleError::NotAge)?;
    if decryptor.is_scrypt() {
        return Err(BundleError::Passphrase);
    }
    let mut reader = decryptor.decrypt(identities.iter()).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => BundleError::WrongIdentity,
        _ => BundleError::Corrupt,
    })?;
    // age's plaintext is never longer than its ciphertext.
    let mut plain = Zeroizing::new(Vec::with_capacity(sealed.len()));
    reader.read_to_end(&mut plain).map_err(|_| BundleError::Corrupt)?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;

    fn pair() -> (Identities, Recipients) {
        let (text, recipient) = keys::generate();
        let mut r = Recipients::default();
        r.add(&recipient).expect("recipient");
        (Identities::parse("k", text.as_bytes()).expect("identity"), r)
    }

    #[test]
    fn sealed_bytes_open_with_the_identity_and_no_other() {
        let (ids, r) = pair();
        let sealed = seal(b"canary-value-5521", &r).expect("seal");
        assert!(!sealed.windows(6).any(|w| w == b"canary"));
        assert_eq!(open(&sealed, &ids).expect("open").as_slice(), b"canary-value-5521");
        let (others, _) = pair();
        assert!(matches!(open(&sealed, &others), Err(BundleError::WrongIdentity)));
    }

    #[test]
    fn damage_and_truncation_are_told_apart_from_wrong_keys() {
        let (ids, r) = pair();
        let sealed = seal(&[7u8; 100_000], &r).expect("seal");
        let mut flipped = sealed.clone();
        let at = flipped.len() - 10;
        flipped[at] ^= 1;
        assert!(matches!(open(&flipped, &ids), Err(BundleError::Corrupt)));
        assert!(matches!(open(&sealed[..sealed.len() - 70_000], &ids), Err(BundleError::Corrupt)));
        assert!(matches!(open(b"hello", &ids), Err(BundleError::NotAge)));
        assert!(matches!(seal(b"x", &Recipients::default()), Err(BundleError::NoRecipient)));
    }
}
