//! The Vault-compatible API: the KV v2 subset (and its `sys/` and `auth/token/` neighbours)
//! that the `bao`/`vault` CLI, hvac and the External Secrets Operator call, answered as
//! OpenBao answers it (`../shared/reference/vault-api.md`). A thin adapter: every rule is the
//! service layer's.

mod auth;
mod fields;
mod github;
mod kv;
mod login;
mod namespace;
mod reply;
mod sys;
mod token;

use axum::Router;

use crate::state::AppState;

/// The Vault API's routes. Mount names are vault names, which may not collide with the
/// native API's first path segments (`clawvault_core::path::RESERVED_VAULT_NAMES`).
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(sys::router())
        .merge(token::router())
        .merge(login::router())
        .merge(kv::router())
        .merge(github::router())
        .layer(axum::middleware::from_fn(namespace::only_root))
}
