//! Agents: machine identities with their own `ocv_` keys, managed by the users who created
//! them (and admins). Deactivating, re-keying or deleting an agent cuts off its tokens at once.

use clawvault_core::action::Action;
use clawvault_core::apikey::{ApiKey, KeyKind, PREFIX_LEN};
use clawvault_core::scope::Scope;
use clawvault_core::time_util::now;
use clawvault_store::{AgentRecord, AuditBatch, Change};
use std::net::IpAddr;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{access, require_future};
use crate::auth::Caller;
use crate::changes;
use crate::error::{ApiError, ApiResult, Hint};
use crate::op::Op;
use crate::state::AppState;

/// Shortest and longest agent token lifetime.
pub const TTL_RANGE: std::ops::RangeInclusive<i64> = 5..=86_400;

/// Settable fields of an agent (creation and PATCH).
#[derive(Debug, Default, Clone)]
pub struct AgentFields {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Token lifetime.
    pub token_ttl_seconds: Option<Option<i64>>,
    /// Vault binding.
    pub vault_ids: Option<Vec<Uuid>>,
    /// Scopes.
    pub scopes: Option<Vec<String>>,
    /// Expiry.
    pub expires_at: Option<Option<OffsetDateTime>>,
    /// Active.
    pub is_active: Option<bool>,
    /// Recorded.
    pub intents_api_enabled: Option<bool>,
    /// Recorded.
    pub shroud_enabled: Option<bool>,
}

async fn check_fields(state: &AppState, caller: &Caller, f: &AgentFields) -> ApiResult<()> {
    if let Some(name) = &f.name {
        super::free_text("name", name, super::MAX_NAME_LEN, true)?;
    }
    if let Some(description) = &f.description {
        super::free_text("description", description, super::MAX_DESCRIPTION_LEN, false)?;
    }
    if let Some(Some(ttl)) = f.token_ttl_seconds
        && !TTL_RANGE.contains(&ttl)
    {
        return Err(ApiError::Invalid {
            field: "token_ttl_seconds",
            problem: format!("must be between {} and {} seconds", TTL_RANGE.start(), TTL_RANGE.end()),
        });
    }
    if let Some(at) = f.expires_at {
        require_future("expires_at", at)?;
    }
    for id in f.vault_ids.iter().flatten() {
        let visible = match state.store.vault(*id).await? {
            Some(v) => access::sees(state, caller, &v).await?,
            None => false,
        };
        if !visible {
            return Err(ApiError::Invalid {
                field: "vault_ids",
                problem: format!("names vault {id}, which does not exist or you cannot see"),
            });
        }
    }
    Ok(())
}

fn apply(agent: &mut AgentRecord, f: AgentFields) {
    if let Some(v) = f.name {
        agent.name = v;
    }
    if let Some(v) = f.description {
        agent.description = v;
    }
    if let Some(v) = f.token_ttl_seconds {
        agent.token_ttl_seconds = v;
    }
    if let Some(v) = f.vault_ids {
        agent.vault_ids = v;
    }
    if let Some(v) = f.scopes {
        agent.scopes = v;
    }
    if let Some(v) = f.expires_at {
        agent.expires_at = v;
    }
    if let Some(v) = f.is_active {
        agent.is_active = v;
    }
    if let Some(v) = f.intents_api_enabled {
        agent.intents_api_enabled = v;
    }
    if let Some(v) = f.shroud_enabled {
        agent.shroud_enabled = v;
    }
}

/// Checks `fields` and applies them to a new `agent`.
///
/// # Errors
/// 400.
pub async fn check_and_apply(
    state: &AppState,
    caller: &Caller,
    agent: &mut AgentRecord,
    fields: AgentFields,
) -> ApiResult<()> {
    check_fields(state, caller, &fields).await?;
    apply(agent, fields);
    Ok(())
}

/// Mints an `ocv_` key and sets its hash and prefix on `agent`.
///
/// # Errors
/// Randomness failures.
pub fn mint_key(state: &AppState, agent: &mut AgentRecord) -> ApiResult<ApiKey> {
    let key = ApiKey::generate(KeyKind::Agent).map_err(|e| ApiError::Internal(e.to_string()))?;
    agent.key_hash = Some(key.hash(&state.api_key_hash).to_vec());
    agent.key_prefix = Some(key.expose().chars().take(PREFIX_LEN).collect());
    Ok(key)
}

/// A new agent record owned by `created_by`, without a key.
#[must_use]
pub fn blank(name: &str, description: &str, created_by: Uuid) -> AgentRecord {
    AgentRecord {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        description: description.to_owned(),
        created_by,
        key_hash: None,
        key_prefix: None,
        key_expires_at: None,
        is_active: true,
        token_ttl_seconds: None,
        vault_ids: Vec::new(),
        scopes: Vec::new(),
        expires_at: None,
        not_before: None,
        token_generation: 0,
        auth_method: "api_key".into(),
        intents_api_enabled: false,
        shroud_enabled: false,
        created_at: now(),
        last_active_at: None,
    }
}

/// Creates an agent and its key (returned once).
///
/// # Errors
/// 400 for bad fields or an unsupported auth method, 403 for agents.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    auth_method: &str,
    fields: AgentFields,
) -> ApiResult<(AgentRecord, ApiKey)> {
    let mut op = Op::new(state, caller, Action::AgentCreate);
    let result = async {
        access::require_scope(caller, Scope::AgentsWrite)?;
        access::require_user(caller, "create agents")?;
        if auth_method != "api_key" {
            return Err(ApiError::BadRequest(format!("auth_method {auth_method:?} is not supported: use api_key")));
        }
        let name = fields.name.clone().ok_or_else(|| ApiError::BadRequest("missing field `name`".into()))?;
        check_fields(state, caller, &fields).await?;
        let mut agent = blank(&name, "", caller.principal.id());
        apply(&mut agent, fields);
        agent.expires_at = access::earliest(agent.expires_at, access::mint_limit(state, caller).await?);
        let key = mint_key(state, &mut agent)?;
        op.resource(agent.id.to_string());
        op.detail("name", agent.name.as_str());
        let event = op.success();
        state.store.create_agent(&agent, AuditBatch::new(&state.chain_key, &[event])).await?;
        Ok((agent, key))
    }
    .await;
    op.finish(result).await
}

/// Agents the caller manages: all for admins, their own for users, none for agents.
///
/// # Errors
/// Storage failures.
pub async fn list(state: &AppState, caller: &Caller) -> ApiResult<Vec<AgentRecord>> {
    access::require_scope(caller, Scope::AgentsRead)?;
    access::require_user(caller, "list agents")?;
    let all = state.store.list_agents().await?;
    Ok(all.into_iter().filter(|a| caller.principal.is_admin() || a.created_by == caller.principal.id()).collect())
}

/// The calling agent's own record.
///
/// # Errors
/// 403 for users; 401 once the agent no longer exists.
pub async fn me(state: &AppState, caller: &Caller) -> ApiResult<AgentRecord> {
    if !caller.principal.is_agent() {
        return Err(ApiError::Forbidden(
            "only agents have a record of their own: users are listed with the users".into(),
        ));
    }
    state
        .store
        .agent(caller.principal.id())
        .await?
        .ok_or_else(|| ApiError::Unauthorized("this agent no longer exists".into()))
}

/// An agent the caller manages. Others (and agents) are refused like an unknown id.
///
/// # Errors
/// 400 (not an agent id), 404.
async fn managed(state: &AppState, op: &mut Op<'_>, caller: &Caller, raw_id: &str) -> ApiResult<AgentRecord> {
    op.resource(raw_id.to_owned());
    let id = super::id(raw_id, "agent id")?;
    let agent = state.store.agent(id).await?;
    match agent {
        Some(a)
            if !caller.principal.is_agent()
                && (caller.principal.is_admin() || a.created_by == caller.principal.id()) =>
        {
            Ok(a)
        }
        _ => Err(ApiError::NotFound(format!("no agent {id} that you manage"))),
    }
}

/// One agent the caller manages.
///
/// # Errors
/// 400, 403 for a key without `agents:read`, 404.
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> ApiResult<AgentRecord> {
    let mut op = Op::new(state, caller, Action::AgentRead);
    let result = async {
        access::require_scope(caller, Scope::AgentsRead)?;
        managed(state, &mut op, caller, id).await
    }
    .await;
    op.finish(result).await
}

/// Cuts off every token issued to an agent before now (once the record is stored and the
/// change applied: tokens are then admitted afresh against it).
fn cut(agent: &mut AgentRecord) {
    agent.not_before = Some(now());
    agent.token_generation += 1;
}

/// Updates an agent. Deactivation and changes to its vault binding or expiry take effect on
/// its next request: its tokens are cut off and it must exchange its key again.
///
/// # Errors
/// 400, 404.
pub async fn update(state: &AppState, caller: &Caller, id: &str, fields: AgentFields) -> ApiResult<AgentRecord> {
    let mut op = Op::new(state, caller, Action::AgentUpdate);
    let result = update_in(state, &mut op, caller, id, fields).await;
    op.finish(result).await
}

async fn update_in(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    id: &str,
    fields: AgentFields,
) -> ApiResult<AgentRecord> {
    access::require_scope(caller, Scope::AgentsWrite)?;
    let mut agent = managed(state, op, caller, id).await?;
    check_fields(state, caller, &fields).await?;
    let cuts = fields.is_active == Some(false)
        || fields.vault_ids.is_some()
        || fields.expires_at.is_some()
        || fields.scopes.is_some();
    // Giving an agent (more) life is minting: no longer than the caller's own credential.
    let extends = fields.expires_at.is_some() || fields.is_active == Some(true);
    apply(&mut agent, fields);
    if extends {
        agent.expires_at = access::earliest(agent.expires_at, access::mint_limit(state, caller).await?);
    }
    if cuts {
        cut(&mut agent);
        op.detail("tokens_revoked", true);
    }
    op.detail("is_active", agent.is_active);
    let event = op.success();
    let changed = [Change::Agent(agent.id)];
    state.store.update_agent(&agent, AuditBatch::new(&state.chain_key, &[event]).changing(&changed)).await?;
    changes::committed(state, &changed).await;
    Ok(agent)
}

/// Replaces an agent's key: the old key and every token are dead at once.
///
/// # Errors
/// 404.
pub async fn rotate_key(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ApiKey> {
    let mut op = Op::new(state, caller, Action::AgentRotateKey);
    let result = async {
        access::require_scope(caller, Scope::AgentsWrite)?;
        let mut agent = managed(state, &mut op, caller, id).await?;
        let key = mint_key(state, &mut agent)?;
        cut(&mut agent);
        let event = op.success();
        let changed = [Change::Agent(agent.id)];
        state.store.update_agent(&agent, AuditBatch::new(&state.chain_key, &[event]).changing(&changed)).await?;
        changes::committed(state, &changed).await;
        Ok(key)
    }
    .await;
    op.finish(result).await
}

/// Deletes an agent with its policies; its tokens die at once.
///
/// # Errors
/// 400, 404.
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> ApiResult<()> {
    let mut op = Op::new(state, caller, Action::AgentDelete);
    let result = async {
        access::require_scope(caller, Scope::AgentsWrite)?;
        let agent = managed(state, &mut op, caller, id).await?;
        let event = op.success();
        let changed = [Change::Agent(agent.id), Change::Policies(agent.id)];
        state.store.delete_agent(agent.id, AuditBatch::new(&state.chain_key, &[event]).changing(&changed)).await?;
        changes::committed(state, &changed).await;
        Ok(())
    }
    .await;
    op.finish(result).await
}

/// Exchanges an agent key for a token; `agent_id`, when given, must be the key's agent.
///
/// # Errors
/// 401 with one detail for unknown keys, wrong ids and revoked keys; specific details for
/// deactivated and expired agents (the key was right).
pub async fn exchange(
    state: &AppState,
    ip: Option<IpAddr>,
    presented: &str,
    agent_id: Option<Uuid>,
) -> ApiResult<(AgentRecord, String, i64)> {
    let mut op = Op::anonymous(state, ip, Action::AgentKeyExchange);
    let result = exchange_key(state, &mut op, presented, agent_id).await;
    let result = super::keys::limited(state, presented, result);
    op.finish(result).await
}

async fn exchange_key(
    state: &AppState,
    op: &mut Op<'_>,
    presented: &str,
    agent_id: Option<Uuid>,
) -> ApiResult<(AgentRecord, String, i64)> {
    let agent = standing_agent_key(state, op, presented, agent_id).await?;
    let (token, ttl) = state.tokens.issue_agent(&agent).map_err(|e| ApiError::Internal(e.to_string()))?;
    state.store.touch_agent(agent.id, now()).await?;
    Ok((agent, token, ttl))
}

/// The active, unexpired agent whose `ocv_` key this is (the key exchange, and keys sent
/// directly as bearer credentials); `agent_id`, when given, must be its agent.
///
/// # Errors
/// 401, with one detail for unknown keys and wrong ids.
pub(crate) async fn standing_agent_key(
    state: &AppState,
    op: &mut Op<'_>,
    presented: &str,
    agent_id: Option<Uuid>,
) -> ApiResult<AgentRecord> {
    let key = ApiKey::from_presented(presented.trim());
    op.detail("key_prefix", key.display_prefix());
    match KeyKind::of(key.expose()) {
        Some(KeyKind::Agent) => {}
        Some(KeyKind::User) => {
            return Err(ApiError::Unauthorized("this is a user's key (1ck_…), not an agent's".into())
                .hint(Hint::ExchangeUserKey));
        }
        None => return Err(ApiError::Unauthorized("not a clawvault agent key: agent keys start with ocv_".into())),
    }
    let invalid = || ApiError::Unauthorized("invalid agent key".into());
    let agent = state.store.agent_by_key_hash(&key.hash(&state.api_key_hash)).await?.ok_or_else(invalid)?;
    let stored = agent.key_hash.as_deref().unwrap_or_default();
    if !key.matches(&state.api_key_hash, stored) || agent_id.is_some_and(|id| id != agent.id) {
        return Err(invalid());
    }
    op.actor("agent", agent.id.to_string());
    op.resource(agent.id.to_string());
    let at = OffsetDateTime::now_utc();
    if !agent.is_active {
        return Err(ApiError::Unauthorized("this agent is deactivated: ask the user who manages it".into()));
    }
    if agent.expires_at.is_some_and(|t| t <= at) || agent.key_expires_at.is_some_and(|t| t <= at) {
        return Err(ApiError::Unauthorized("this agent or its key has expired: ask the user who manages it".into()));
    }
    Ok(agent)
}
