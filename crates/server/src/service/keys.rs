//! API keys and access tokens: exchange, creation, listing, deletion, token revocation, and
//! the first admin of a new data directory.

use clawvault_core::action::Action;
use clawvault_core::apikey::{ApiKey, KeyKind, PREFIX_LEN};
use clawvault_core::scope::Scope;
use clawvault_core::time_util::now;
use clawvault_store::{ApiKeyRecord, AuditBatch, Change, PrincipalKind, Role, UserRecord};
use std::net::IpAddr;
use time::OffsetDateTime;
use uuid::Uuid;

use std::sync::Arc;

use clawvault_core::time_util::unix_micros;

use crate::auth::{Actor, Caller, Credential, Principal};
use crate::changes;
use crate::error::{ApiError, ApiResult, Hint};
use crate::op::Op;
use crate::state::AppState;

/// Longest API key name.
pub const MAX_KEY_NAME_LEN: usize = 128;

/// A minted access token.
#[derive(Debug)]
pub struct Issued {
    /// The JWT.
    pub token: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
}

/// Exchanges a `1ck_` key for an access token.
///
/// # Errors
/// 401 for unknown, revoked or expired keys, with the same detail for unknown and revoked
/// keys so that a caller cannot tell them apart.
pub async fn exchange(state: &AppState, ip: Option<IpAddr>, presented: &str) -> ApiResult<Issued> {
    let mut op = Op::anonymous(state, ip, Action::KeyExchange);
    let result = limited(state, presented, exchange_key(state, &mut op, presented).await);
    op.finish(result).await
}

/// A failed exchange counts against its key prefix (see [`crate::limits::Limits::exchange_failed`]).
pub(crate) fn limited<T>(state: &AppState, presented: &str, result: ApiResult<T>) -> ApiResult<T> {
    if let Err(ApiError::Unauthorized(_)) = result.as_ref().map_err(ApiError::unhinted).map_err(|(e, _)| e) {
        let prefix: String = presented.trim().chars().take(PREFIX_LEN).collect();
        if let Some(e) = state.limits.exchange_failed(&prefix) {
            return Err(e);
        }
    }
    result
}

async fn exchange_key(state: &AppState, op: &mut Op<'_>, presented: &str) -> ApiResult<Issued> {
    let (record, user) = standing_user_key(state, op, presented).await?;
    let (token, expires_in) = state
        .tokens
        .issue_user(user.id, user.role, record.id, record.expires_at, record.scopes.clone())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    state.store.touch_api_key(record.id, now()).await?;
    Ok(Issued { token, expires_in })
}

/// A user's `1ck_` key that verifies, is active and unexpired, with its user (the key
/// exchange, and keys sent directly as bearer credentials).
///
/// # Errors
/// 401, with one detail for unknown and revoked keys.
pub(crate) async fn standing_user_key(
    state: &AppState,
    op: &mut Op<'_>,
    presented: &str,
) -> ApiResult<(ApiKeyRecord, UserRecord)> {
    let presented = presented.trim();
    let key = ApiKey::from_presented(presented);
    op.detail("key_prefix", key.display_prefix());
    match KeyKind::of(presented) {
        Some(KeyKind::User) => {}
        Some(KeyKind::Agent) => {
            return Err(ApiError::Unauthorized("this is an agent key (ocv_…), not a user's".into())
                .hint(Hint::ExchangeAgentKey));
        }
        None => return Err(ApiError::Unauthorized("not a clawvault API key: user keys start with 1ck_".into())),
    }
    let invalid = || ApiError::Unauthorized("invalid API key".into());
    let record = state.store.api_key_by_hash(&key.hash(&state.api_key_hash)).await?.ok_or_else(invalid)?;
    if !key.matches(&state.api_key_hash, &record.key_hash) || !record.is_active {
        return Err(invalid());
    }
    op.resource(record.id.to_string());
    op.actor("user", record.user_id.to_string());
    if record.expires_at.is_some_and(|at| at <= OffsetDateTime::now_utc()) {
        return Err(ApiError::Unauthorized("this API key has expired: create a new one".into()));
    }
    let user = state.store.user(record.user_id).await?.ok_or_else(invalid)?;
    Ok((record, user))
}

/// How long a key sent as the bearer credential is trusted from memory before the database
/// is asked again (revocations reach it at once either way, through the same gates as tokens).
const KEY_ADMISSION_SECONDS: i64 = 300;

/// The principal of a `1ck_` or `ocv_` key sent directly as the bearer credential, checked
/// against the database (a keyed-hash lookup) and then cached like a verified token.
///
/// # Errors
/// 401 as for the key exchange (429 once a prefix failed too often).
pub(crate) async fn admit_key(state: &AppState, op: &mut Op<'_>, presented: &str) -> ApiResult<Arc<Principal>> {
    let presented = presented.trim();
    let epoch = state.tokens.epoch();
    let result = admit_key_inner(state, op, presented).await;
    let principal = limited(state, presented, result)?;
    Ok(state.tokens.admit(presented, principal, epoch))
}

async fn admit_key_inner(state: &AppState, op: &mut Op<'_>, presented: &str) -> ApiResult<Principal> {
    let now = OffsetDateTime::now_utc();
    let until = |ttl: i64, limits: [Option<OffsetDateTime>; 2]| {
        limits.into_iter().fold(now + time::Duration::seconds(ttl), |at, l| l.map_or(at, |l| at.min(l)))
    };
    Ok(match KeyKind::of(presented) {
        Some(KeyKind::User) => {
            let (record, user) = standing_user_key(state, op, presented).await?;
            Principal {
                actor: Actor::User { id: user.id, role: user.role, api_key_id: record.id },
                jti: format!("key:{}", record.id),
                issued_at_us: unix_micros(now),
                expires_at: until(KEY_ADMISSION_SECONDS, [record.expires_at, None]),
                scopes: record.scopes,
                credential: Credential::ApiKey,
            }
        }
        Some(KeyKind::Agent) => {
            let agent = super::agents::standing_agent_key(state, op, presented, None).await?;
            Principal {
                actor: Actor::Agent {
                    id: agent.id,
                    created_by: agent.created_by,
                    vault_ids: agent.vault_ids.clone(),
                    token_generation: agent.token_generation,
                },
                jti: format!("key:{}", agent.id),
                issued_at_us: unix_micros(now),
                expires_at: until(KEY_ADMISSION_SECONDS, [agent.expires_at, agent.key_expires_at]),
                scopes: agent.scopes,
                credential: Credential::ApiKey,
            }
        }
        None => return Err(ApiError::Unauthorized("not a clawvault key".into())),
    })
}

/// Revokes the caller's own token.
///
/// # Errors
/// Storage failures.
pub async fn revoke_token(state: &AppState, caller: &Caller) -> ApiResult<()> {
    let mut op = Op::new(state, caller, Action::TokenRevoke);
    let result = async {
        let p = &caller.principal;
        if p.credential == Credential::ApiKey {
            return Err(ApiError::BadRequest(
                "this request was made with an API key, not a token: to revoke the key, delete it or re-key the agent"
                    .into(),
            )
            .hint(Hint::DeleteApiKey));
        }
        op.resource(p.jti.clone());
        let event = op.success();
        let changed = [Change::Token(p.jti.clone())];
        state
            .store
            .revoke_token(&p.jti, p.expires_at, AuditBatch::new(&state.chain_key, &[event]).changing(&changed))
            .await?;
        changes::committed(state, &changed).await;
        Ok(())
    }
    .await;
    op.finish(result).await
}

/// Creates an API key for the caller; the key is returned once.
///
/// # Errors
/// 400 for a bad name or a past expiry.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    name: &str,
    scopes: Vec<String>,
    expires_at: Option<OffsetDateTime>,
) -> ApiResult<(ApiKeyRecord, ApiKey)> {
    let mut op = Op::new(state, caller, Action::ApiKeyCreate);
    let result = async {
        super::access::require_scope(caller, Scope::KeysWrite)?;
        super::access::require_user(caller, "hold user API keys: agents have their own key")?;
        super::free_text("name", name, MAX_KEY_NAME_LEN, true)?;
        let scopes = check_scopes(caller, scopes)?;
        super::require_future("expires_at", expires_at)?;
        let expires_at = super::access::earliest(expires_at, super::access::mint_limit(state, caller).await?);
        let (record, key) = mint(state, caller.principal.id(), name, scopes, expires_at)?;
        op.resource(record.id.to_string());
        op.detail("name", name);
        let event = op.success();
        state.store.create_api_key(&record, AuditBatch::new(&state.chain_key, &[event])).await?;
        Ok((record, key))
    }
    .await;
    op.finish(result).await
}

/// Validates the scopes of a new key: known names only, each once, and a key limited to some
/// scopes mints keys limited to (some of) the same, never an unrestricted one.
fn check_scopes(caller: &Caller, scopes: Vec<String>) -> ApiResult<Vec<String>> {
    let mut parsed: Vec<Scope> = Vec::new();
    for name in &scopes {
        let scope = name.parse::<Scope>().map_err(|e| ApiError::BadRequest(e.to_string()))?;
        if !parsed.contains(&scope) {
            parsed.push(scope);
        }
    }
    let own = &caller.principal.scopes;
    if !own.is_empty() {
        if parsed.is_empty() {
            return Err(ApiError::Forbidden(format!(
                "this API key is limited to the scopes {}: the keys it creates must name scopes among them",
                own.join(", ")
            )));
        }
        if let Some(beyond) = parsed.iter().find(|s| !s.allowed_by(own)) {
            return Err(ApiError::Forbidden(format!(
                "this API key is limited to the scopes {}, which do not include {beyond}",
                own.join(", ")
            )));
        }
    }
    Ok(parsed.iter().map(|s| s.as_str().to_owned()).collect())
}

fn mint(
    state: &AppState,
    user_id: Uuid,
    name: &str,
    scopes: Vec<String>,
    expires_at: Option<OffsetDateTime>,
) -> ApiResult<(ApiKeyRecord, ApiKey)> {
    let key = ApiKey::generate(KeyKind::User).map_err(|e| ApiError::Internal(e.to_string()))?;
    let record = ApiKeyRecord {
        id: Uuid::new_v4(),
        user_id,
        name: name.to_owned(),
        key_prefix: key.expose().chars().take(PREFIX_LEN).collect(),
        key_hash: key.hash(&state.api_key_hash).to_vec(),
        scopes,
        is_active: true,
        created_at: now(),
        expires_at,
        last_used_at: None,
    };
    Ok((record, key))
}

/// Creates a key for another user (their first key, made by an admin).
///
/// # Errors
/// Storage failures.
pub(crate) async fn create_for(
    state: &AppState,
    op: &Op<'_>,
    caller: &Caller,
    user_id: Uuid,
    name: &str,
) -> ApiResult<ApiKey> {
    let expires_at = super::access::mint_limit(state, caller).await?;
    // A key limited to some scopes cannot get round them by making a user: that user's
    // first key carries the same limits.
    let (record, key) = mint(state, user_id, name, caller.principal.scopes.clone(), expires_at)?;
    let event = op.derived(Action::ApiKeyCreate, record.id.to_string());
    state.store.create_api_key(&record, AuditBatch::new(&state.chain_key, &[event])).await?;
    Ok(key)
}

/// The caller's API keys (never the keys themselves).
///
/// # Errors
/// Storage failures.
pub async fn list(state: &AppState, caller: &Caller) -> ApiResult<Vec<ApiKeyRecord>> {
    super::access::require_scope(caller, Scope::KeysRead)?;
    super::access::require_user(caller, "hold user API keys: agents have their own key")?;
    Ok(state.store.list_api_keys(caller.principal.id()).await?)
}

/// Deletes one of the caller's API keys; tokens minted from it stop working at once.
///
/// # Errors
/// 400 (not a key id), 404 when the caller has no such key.
pub async fn delete(state: &AppState, caller: &Caller, key_id: &str) -> ApiResult<()> {
    let mut op = Op::new(state, caller, Action::ApiKeyDelete);
    op.resource(key_id.to_owned());
    let result = async {
        let key_id = super::id(key_id, "key_id")?;
        super::access::require_scope(caller, Scope::KeysWrite)?;
        super::access::require_user(caller, "hold user API keys: agents have their own key")?;
        let (events, changed) = ([op.success()], [Change::ApiKey(key_id)]);
        let batch = AuditBatch::new(&state.chain_key, &events).changing(&changed);
        if !state.store.delete_api_key(caller.principal.id(), key_id, batch).await? {
            return Err(ApiError::NotFound(format!("you have no API key {key_id}")));
        }
        changes::committed(state, &changed).await;
        Ok(())
    }
    .await;
    op.finish(result).await
}

/// Rotates the token signing key (admins): new tokens are signed with a new key; tokens
/// signed by older keys stay valid until they expire. Returns the new key id.
///
/// # Errors
/// 403 for everyone but admins; storage failures.
pub async fn rotate_signing_key(state: &AppState, caller: &Caller) -> ApiResult<String> {
    let op = Op::new(state, caller, Action::SigningKeyRotate);
    let result = async {
        super::access::require_scope(caller, Scope::KeysWrite)?;
        super::access::require_admin(caller, "rotate the token signing key")?;
        let key = crate::signing::create(state.store.as_ref(), state.root.as_ref())
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        // Applied as every server applies it: the keys are loaded again, older ones retiring.
        changes::committed(state, &[Change::ServerKeys]).await;
        Ok(key.kid().to_owned())
    }
    .await;
    op.finish(result).await
}

/// The vault a new data directory starts with, so that a first secret needs no setup.
pub const DEFAULT_VAULT: &str = "default";

/// On a new data directory, creates the first admin, an API key for them and the `default`
/// vault; returns the key (to show once), or `None` when users already exist.
///
/// # Errors
/// Storage failures.
pub async fn bootstrap_admin(state: &AppState) -> ApiResult<Option<ApiKey>> {
    if state.store.count_users().await? > 0 {
        return Ok(None);
    }
    let user = UserRecord { id: Uuid::new_v4(), name: "admin".into(), role: Role::Admin, created_at: now() };
    let mut op = Op::system(state, Action::UserBootstrap);
    op.resource(user.id.to_string());
    let event = op.success();
    match state.store.create_user(&user, AuditBatch::new(&state.chain_key, &[event])).await {
        // Another replica starting on the same empty database got there first.
        Err(clawvault_store::StoreError::Conflict(_)) => return Ok(None),
        other => other?,
    }
    let (record, key) = mint(state, user.id, "bootstrap admin key", Vec::new(), None)?;
    let mut op = Op::system(state, Action::ApiKeyCreate);
    op.resource(record.id.to_string());
    let event = op.success();
    state.store.create_api_key(&record, AuditBatch::new(&state.chain_key, &[event])).await?;
    let mut op = Op::system(state, Action::VaultCreate);
    super::vaults::create_for(state, &mut op, user.id, PrincipalKind::User, DEFAULT_VAULT, "created on first start")
        .await?;
    Ok(Some(key))
}
