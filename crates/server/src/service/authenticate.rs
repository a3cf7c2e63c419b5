//! Who is asking: a bearer credential, as any surface received it (an access token, or a
//! `1ck_`/`ocv_` key sent as it is), turned into a [`Caller`]. Surfaces only find the
//! credential in their request; every rule of checking it is here, and every refusal is
//! audited (or, before authentication, counted for the address).

use std::net::IpAddr;
use std::sync::Arc;

use clawvault_core::action::Action;
use clawvault_core::time_util::unix_micros;
use time::OffsetDateTime;

use crate::auth::{Actor, Caller, Checked, Principal, TokenError};
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use crate::state::AppState;

/// The caller behind `credential`, from `ip`, asking for `context` (a path to name in the
/// audit event of a refusal, with capabilities already taken out).
///
/// # Errors
/// 401 for credentials that do not verify or no longer stand, 429 once a key prefix or an
/// address failed too often, 503 while this server cannot catch up with the others.
pub async fn caller(state: &AppState, credential: &str, ip: Option<IpAddr>, context: &str) -> ApiResult<Caller> {
    // Revocations, policy changes and writes made by other servers apply to this request.
    crate::changes::catch_up(state).await?;
    let credential = credential.trim();
    // A `1ck_`/`ocv_` key may be the bearer itself (1Claw documents it): checked against the
    // database once, then cached under the same gates as tokens.
    if credential.starts_with("1ck_") || credential.starts_with("ocv_") {
        if let Some(principal) = state.tokens.cached_key(credential) {
            return Ok(Caller { principal, ip });
        }
        let mut op = Op::anonymous(state, ip, Action::ApiKeyAuth);
        op.detail("path", context);
        return match super::keys::admit_key(state, &mut op, credential).await {
            Ok(principal) => Ok(Caller { principal, ip }),
            Err(e) => Err(op.fail(e).await),
        };
    }
    let verified = match state.tokens.check(credential) {
        Ok(Checked::Cached(p)) => Ok(p),
        Ok(Checked::Fresh(p)) => admit_token(state, credential, p).await,
        Err(e) => Err(ApiError::Unauthorized(e.to_string())),
    };
    match verified {
        Ok(principal) => Ok(Caller { principal, ip }),
        Err(e) => Err(refused(state, ip, context, e).await),
    }
}

/// Records a request refused before a credential could be checked (none was sent, or it was
/// malformed), as a failed authentication; returns the error to answer.
pub async fn refused(state: &AppState, ip: Option<IpAddr>, context: &str, error: ApiError) -> ApiError {
    let mut op = Op::anonymous(state, ip, Action::TokenAuth);
    op.detail("path", context);
    op.fail(error).await
}

/// Admits a token seen for the first time, once what stands behind it is confirmed in the
/// database (after a restart the in-memory revocation state is gone; the database is not): a
/// user's API key still exists and has not expired, an agent is still active, unexpired,
/// and was not cut off (deactivated, re-keyed, re-bound) after the token was issued: by time,
/// and by token generation, which also catches a token minted from the row as it was just
/// before a cut-off committed.
async fn admit_token(state: &AppState, token: &str, p: Principal) -> ApiResult<Arc<Principal>> {
    let revoked = || ApiError::Unauthorized(TokenError::Revoked.to_string());
    let epoch = state.tokens.epoch();
    match &p.actor {
        Actor::User { id, api_key_id, .. } => {
            let key = state.store.api_key(*api_key_id).await?;
            if !key.as_ref().is_some_and(|k| k.is_active && k.user_id == *id) {
                state.tokens.kill_api_key(*api_key_id);
                return Err(revoked());
            }
            if key.and_then(|k| k.expires_at).is_some_and(|at| at <= OffsetDateTime::now_utc()) {
                return Err(ApiError::Unauthorized(TokenError::Expired.to_string()));
            }
        }
        Actor::Agent { id, token_generation, .. } => {
            let now = OffsetDateTime::now_utc();
            let agent = state.store.agent(*id).await?;
            let standing = agent.as_ref().is_some_and(|a| {
                a.is_active
                    && a.token_generation == *token_generation
                    && a.expires_at.is_none_or(|at| at > now)
                    && a.not_before.is_none_or(|nb| p.issued_at_us >= unix_micros(nb))
            });
            if !standing {
                return Err(revoked());
            }
        }
    }
    Ok(state.tokens.admit(token, p, epoch))
}
