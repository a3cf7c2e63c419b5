use thiserror::Error;

/// Why a bundle (or an age file) could not be made or opened. No variant carries any
/// decrypted byte: names of entries and counts only.
#[derive(Debug, Error)]
pub enum BundleError {
    /// The identity text holds no usable age identity.
    #[error("{0}")]
    Identity(String),
    /// A recipient that is not an age X25519 recipient.
    #[error("{0:?} is not an age recipient (age1…, as age-keygen -y prints)")]
    Recipient(String),
    /// Encryption needs at least one recipient.
    #[error("no recipient: give the host's age recipient (age1…)")]
    NoRecipient,
    /// The bytes are not an age file.
    #[error("not an age-encrypted file (or its header is damaged)")]
    NotAge,
    /// None of the identities opens the file.
    #[error("none of the given age identities opens it: it was encrypted to other recipients")]
    WrongIdentity,
    /// The file is encrypted to a passphrase, which bundles never use.
    #[error("it is encrypted with a passphrase; clawvault opens files encrypted to an age identity")]
    Passphrase,
    /// Decryption failed part-way: damaged or cut short.
    #[error("the encrypted data is damaged or truncated")]
    Corrupt,
    /// The decrypted contents are not a tar archive (optionally zstd-compressed).
    #[error("the decrypted contents are not a tar archive: {0}")]
    Archive(String),
    /// An entry that is not a plain file or directory, or whose name leaves the bundle.
    #[error("entry {name:?}: {reason}")]
    Entry {
        /// The entry's name as the archive gives it (names are not values).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The manifest and the files disagree, or the manifest cannot be read.
    #[error("manifest: {0}")]
    Manifest(String),
    /// Past a size or count limit.
    #[error("too large: {0}")]
    TooLarge(String),
    /// Writing failed.
    #[error("writing the bundle: {0}")]
    Io(#[from] std::io::Error),
}
