//! age identities (which open) and recipients (which encrypt). Only X25519 keys, the kind
//! `age-keygen` makes and agenix hosts hold; identity text is never echoed in an error.

use std::str::FromStr as _;

use age::secrecy::ExposeSecret as _;
use zeroize::Zeroizing;

use crate::BundleError;

/// The identities of one or more identity files.
pub struct Identities(Vec<Box<dyn age::Identity + Send + Sync>>);

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identities({} keys)", self.0.len())
    }
}

impl Identities {
    /// Reads an identity file's text (`AGE-SECRET-KEY-1…` lines, `#` comments); `name` is
    /// how errors call it.
    ///
    /// # Errors
    /// A line that is not an identity (named by its number only), or no identity at all.
    pub fn parse(name: &str, text: &[u8]) -> Result<Self, BundleError> {
        let file = age::IdentityFile::from_buffer(text).map_err(|e| {
            BundleError::Identity(format!(
                "{name}: {e} (an age identity file holds AGE-SECRET-KEY-1… lines; an SSH key must \
                 first be converted, e.g. with ssh-to-age)"
            ))
        })?;
        let keys = file.into_identities().map_err(|_| {
            BundleError::Identity(format!("{name}: its identities are encrypted, which is not supported"))
        })?;
        if keys.is_empty() {
            return Err(BundleError::Identity(format!("{name} holds no age identity (AGE-SECRET-KEY-1…)")));
        }
        Ok(Self(keys))
    }

    /// Adds the identities of another file.
    pub fn extend(&mut self, other: Self) {
        self.0.extend(other.0);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.0.iter().map(|k| k.as_ref() as &dyn age::Identity)
    }
}

/// Whom a bundle is encrypted to.
#[derive(Debug, Default)]
pub struct Recipients(Vec<age::x25519::Recipient>);

impl Recipients {
    /// Adds a recipient given as text (`age1…`).
    ///
    /// # Errors
    /// Not an X25519 age recipient.
    pub fn add(&mut self, text: &str) -> Result<(), BundleError> {
        let r = age::x25519::Recipient::from_str(text.trim()).map_err(|_| BundleError::Recipient(text.to_owned()))?;
        self.0.push(r);
        Ok(())
    }

    /// How many there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &dyn age::Recipient> {
        self.0.iter().map(|r| r as &dyn age::Recipient)
    }
}

/// A fresh identity for a new host: the identity file's text (secret) and its recipient.
#[must_use]
pub fn generate() -> (Zeroizing<String>, String) {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let secret = identity.to_string();
    let text = Zeroizing::new(format!("# public key: {recipient}\n{}\n", secret.expose_secret()));
    (text, recipient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_identity_reads_back_and_matches_its_recipient() {
        let (text, recipient) = generate();
        let ids = Identities::parse("host.key", text.as_bytes()).expect("parses");
        assert_eq!(ids.0.len(), 1);
        let mut r = Recipients::default();
        r.add(&recipient).expect("recipient");
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn identity_errors_name_the_line_never_its_text() {
        let err = Identities::parse("host.key", b"# c\nNOT-A-KEY-canary-7781\n").expect_err("refused").to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("canary"), "{err}");
        let err = Identities::parse("empty.key", b"# nothing\n").expect_err("refused").to_string();
        assert!(err.contains("no age identity"), "{err}");
    }

    #[test]
    fn recipients_must_be_age_x25519() {
        let mut r = Recipients::default();
        assert!(r.add("ssh-ed25519 AAAA").is_err());
        assert!(r.add("age1notvalid").is_err());
        assert!(r.is_empty());
    }
}
