//! Who a caller is, and the tokens that say so: [`Principal`] and [`Caller`] as every surface
//! and the service layer see them, and the signing and verification of access tokens. Each
//! surface has its own extractor (the native API's is `native::extract`) that finds the
//! credential and hands it to `service::authenticate`; [`bearer`] is the header parse those
//! that take only `Authorization: Bearer` share.

pub mod principal;
pub mod tokens;

pub use principal::{Actor, Caller, Credential, Principal};
pub use tokens::{Checked, SigningKey, TokenError, TokenService};

/// The credential of an `Authorization: Bearer` header (an access token, or an agent's or
/// user's key sent as it is), for the surfaces that take nothing else.
///
/// # Errors
/// 401 saying what to send.
pub fn bearer(headers: &axum::http::HeaderMap) -> Result<&str, crate::error::ApiError> {
    use crate::error::ApiError;
    let value = headers.get(axum::http::header::AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthorized("send the agent's key or an access token as `Authorization: Bearer <token>`".into())
    })?;
    let value =
        value.to_str().map_err(|_| ApiError::Unauthorized("the Authorization header is not valid text".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())),
    }
}
