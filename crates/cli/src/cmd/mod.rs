//! One module per command group.

pub mod audit;
pub mod login;
pub mod secret;
pub mod server;
pub mod vault;

use anyhow::Result;

use crate::exit::Coded;

/// Splits `VAULT/PATH`.
///
/// # Errors
/// Invalid input when there is no `/`.
pub fn split_reference(reference: &str) -> Result<(&str, &str)> {
    match reference.split_once('/') {
        Some((vault, path)) if !vault.is_empty() && !path.is_empty() => Ok((vault, path)),
        _ => Err(Coded::invalid(format!("{reference:?} is not VAULT/PATH: write it like prod/openai/api-key"))),
    }
}
