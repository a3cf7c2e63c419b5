//! Who a caller is, and the tokens that say so: [`Principal`] and [`Caller`] as every surface
//! and the service layer see them, and the signing and verification of access tokens. Nothing
//! here reads a request: each surface has its own extractor (the native API's is
//! `native::extract`) that finds the credential and hands it to `service::authenticate`.

pub mod principal;
pub mod tokens;

pub use principal::{Actor, Caller, Credential, Principal};
pub use tokens::{Checked, SigningKey, TokenError, TokenService};
