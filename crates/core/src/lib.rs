//! The clawvault domain, free of I/O: what a secret path may look like, how secret values are
//! held in memory, how they are sealed (envelope encryption), how API keys are minted and
//! hashed, and how the audit hash chain is linked and verified.
//!
//! Everything that touches a disk, a socket or a database lives in other crates; this one is
//! pure so that its rules can be unit- and property-tested in isolation.
//!
//! - [`path`]: validation of secret paths and vault names, with errors that name the rule.
//! - [`secret`]: [`secret::SecretValue`] (zeroizing, redacted in `Debug`) and secret types.
//! - [`crypto`]: data keys, the [`crypto::RootKey`] provider trait, sealing of secret versions.
//! - [`keyring`]: the server master secret and the subkeys derived from it.
//! - [`apikey`]: `1ck_`/`ocv_` key minting, keyed hashing and constant-time checks.
//! - [`audit`]: audit events, the HMAC-SHA256 chain and its verification.
//! - [`action`]: the actions audit events name.
//! - [`generate`]: server-side generation of rotated values.
//! - [`scope`]: what a user's API key may be limited to.
//! - [`template`]: templates naming secrets (`{{ cv://VAULT/PATH#FIELD }}`).
//! - [`text`]: the rules of free text (names, descriptions) that terminals later show.

pub mod action;
pub mod apikey;
pub mod audit;
pub mod crypto;
pub mod dotenv;
pub mod egress;
pub mod enrollment;
pub mod env_bundle;
pub mod generate;
pub mod github_app;
pub mod inspect;
pub mod keyring;
pub mod passphrase;
pub mod path;
pub mod placeholder;
pub mod policy;
pub mod redact;
pub mod route;
pub mod scope;
pub mod secret;
pub mod template;
pub mod text;
pub mod time_util;

pub use crypto::{CryptoError, DataKey, RootKey};
pub use path::{PathError, SecretPath, VaultName};
pub use secret::{SecretType, SecretValue};
