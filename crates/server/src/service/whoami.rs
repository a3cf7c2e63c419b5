//! Who the caller is, as the caller may know it: for `clawvault whoami` and `GET /v1/auth/me`.

use std::sync::Arc;

use clawvault_store::Role;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::{Actor, Caller, Credential, Principal};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The caller's identity.
#[derive(Debug)]
pub struct Identity {
    /// The verified caller.
    pub principal: Arc<Principal>,
    /// The user's or agent's name.
    pub name: String,
    /// A user's role.
    pub role: Option<Role>,
    /// An agent's creator.
    pub created_by: Option<Uuid>,
    /// When the credential stops working: a token's expiry, or the key's own (none: never).
    pub credential_expires_at: Option<OffsetDateTime>,
}

/// The caller's own identity (anyone authenticated may ask; nothing about others is told).
///
/// # Errors
/// 401 once the user or agent no longer exists; storage failures.
pub async fn whoami(state: &AppState, caller: &Caller) -> ApiResult<Identity> {
    let principal = caller.principal.clone();
    let gone = || ApiError::Unauthorized("the caller no longer exists".into());
    let token_expiry = (principal.credential == Credential::Token).then_some(principal.expires_at);
    match &principal.actor {
        Actor::User { id, role, api_key_id } => {
            let user = state.store.user(*id).await?.ok_or_else(gone)?;
            let key_expiry = match token_expiry {
                Some(_) => None,
                None => state.store.api_key(*api_key_id).await?.and_then(|k| k.expires_at),
            };
            Ok(Identity {
                name: user.name,
                role: Some(*role),
                created_by: None,
                credential_expires_at: token_expiry.or(key_expiry),
                principal,
            })
        }
        Actor::Agent { id, created_by, .. } => {
            let agent = state.store.agent(*id).await?.ok_or_else(gone)?;
            let key_expiry = [agent.key_expires_at, agent.expires_at].into_iter().flatten().min();
            Ok(Identity {
                name: agent.name,
                role: None,
                created_by: Some(*created_by),
                credential_expires_at: token_expiry.or(key_expiry),
                principal,
            })
        }
    }
}
