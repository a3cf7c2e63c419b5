//! Bundles: the secrets a host needs, one file per secret, in a tar archive compressed by
//! zstd and encrypted with [age](https://age-encryption.org/v1) to the host's recipients. The
//! pattern of agenix fleets (an age identity on the host, the encrypted secrets beside it), in
//! one file that the `age`, `zstd` and `tar` commands can open as well as clawvault can.
//!
//! Everything here works in memory: [`Bundle::seal`] makes the encrypted bytes and
//! [`Bundle::open`] checks all of an archive (its encryption, every entry's name and kind, the
//! manifest against the files, the sizes) before the caller writes anything, so a wrong
//! identity, a damaged file or a hostile entry stops an install before its first file.
//!
//! - [`keys`]: age identities and recipients, and fresh identities for new hosts.
//! - [`crypt`]: age encryption of whole byte strings (also for agenix's `*.age` files).
//! - [`archive`]: the tar+zstd layer and the rules every entry must follow.
//! - [`manifest`]: what a bundle says about itself (never a value).

pub mod archive;
pub mod crypt;
mod error;
pub mod keys;
pub mod manifest;

pub use archive::{Bundle, Entry};
pub use error::BundleError;
pub use keys::{Identities, Recipients};
pub use manifest::{Host, Manifest, SecretEntry};
