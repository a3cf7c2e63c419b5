//! Logins of the Vault-compatible API: a workload proves who it is (a Kubernetes
//! service-account token, a JWT from an identity provider, an AppRole's id and secret) and
//! gets a short-lived clawvault token of the agent its role maps to. What the login may do is
//! exactly that agent's policies; a deactivated, expired or deleted agent logs in no more.
//!
//! A login is cheap: a signature check against a cached key set, or a keyed hash of the
//! AppRole secret (no Argon2), because ESO logs in on every reconcile.

use std::net::IpAddr;

use clawvault_core::action::Action;
use clawvault_core::scope::Scope;
use clawvault_core::time_util::now;
use clawvault_store::{AgentRecord, AuditBatch, AuthRoleRecord, StoreError};
use hmac::{KeyInit, Mac};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::access;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::jwks::JwtError;
use crate::op::Op;
use crate::request_links::RequestLinks;
use crate::state::AppState;

/// Default and longest lifetime of a login's token (ESO revokes it after each reconcile).
pub const DEFAULT_TTL_SECONDS: i64 = 600;
/// Longest lifetime a role may give its tokens.
pub const MAX_TTL_SECONDS: i64 = 3600;
/// Longest JWT taken.
const MAX_JWT_LEN: usize = 16 * 1024;

/// How a role's logins prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A Kubernetes service-account token.
    Kubernetes,
    /// A JWT from an identity provider.
    Jwt,
    /// An AppRole's `role_id` and `secret_id`.
    AppRole,
}

impl Method {
    /// The name in paths and records.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kubernetes => "kubernetes",
            Self::Jwt => "jwt",
            Self::AppRole => "approle",
        }
    }

    /// A method by name.
    ///
    /// # Errors
    /// 400 naming the methods.
    pub fn parse(raw: &str) -> ApiResult<Self> {
        match raw {
            "kubernetes" => Ok(Self::Kubernetes),
            "jwt" => Ok(Self::Jwt),
            "approle" => Ok(Self::AppRole),
            _ => Err(ApiError::Invalid { field: "method", problem: "must be kubernetes, jwt or approle".into() }),
        }
    }
}

/// A role to create.
#[derive(Debug)]
pub struct NewRole {
    /// How it logs in.
    pub method: String,
    /// Its name (unique per method).
    pub name: String,
    /// The id of the agent a login becomes.
    pub agent_id: String,
    /// What a login must show: for `kubernetes`, `bound_service_account_names` and
    /// `bound_service_account_namespaces` (lists; `["*"]` for any) and an optional
    /// `audience`; for `jwt`, `bound_audiences` (required), and optional `bound_subject` and
    /// `bound_claims` (claim to value or list of values); nothing for `approle`.
    pub bindings: Value,
    /// Lifetime of its tokens (default 600 s, at most 3600 s).
    pub token_ttl_seconds: Option<i64>,
}

/// A created role; an AppRole's `secret_id` is shown this once.
#[derive(Debug)]
pub struct CreatedRole {
    /// The role.
    pub role: AuthRoleRecord,
    /// The AppRole's secret.
    pub secret_id: Option<String>,
}

/// A login's token.
#[derive(Debug)]
pub struct Login {
    /// The clawvault access token.
    pub token: String,
    /// Its lifetime in seconds.
    pub ttl: i64,
    /// The agent it acts as.
    pub agent: AgentRecord,
    /// The role logged in with.
    pub role: AuthRoleRecord,
}

fn secret_hash(state: &AppState, secret: &str) -> Vec<u8> {
    let mut mac =
        <hmac::Hmac<sha2::Sha256>>::new_from_slice(state.api_key_hash.expose()).expect("hmac takes any key length");
    mac.update(b"approle-secret-id\0");
    mac.update(secret.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn string_list(bindings: &Map<String, Value>, key: &str, required: bool) -> ApiResult<Vec<String>> {
    let list = match bindings.get(key) {
        None | Some(Value::Null) if !required => return Ok(Vec::new()),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>().ok_or_else(|| {
                ApiError::Invalid { field: "bindings", problem: format!("{key} must be a list of strings") }
            })?
        }
        _ => {
            return Err(ApiError::Invalid {
                field: "bindings",
                problem: format!("{key} is required: a list of strings"),
            });
        }
    };
    if required && list.is_empty() {
        return Err(ApiError::Invalid { field: "bindings", problem: format!("{key} may not be empty") });
    }
    for item in &list {
        super::free_text("bindings", item, 512, true)?;
    }
    Ok(list)
}

/// The bindings a method takes, checked and normalised.
fn check_bindings(method: Method, bindings: &Value) -> ApiResult<Value> {
    let empty = Map::new();
    let map = match bindings {
        Value::Object(m) => m,
        Value::Null => &empty,
        _ => return Err(ApiError::Invalid { field: "bindings", problem: "must be a JSON object".into() }),
    };
    let known: &[&str] = match method {
        Method::Kubernetes => &["bound_service_account_names", "bound_service_account_namespaces", "audience"],
        Method::Jwt => &["bound_audiences", "bound_subject", "bound_claims"],
        Method::AppRole => &[],
    };
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::Invalid {
            field: "bindings",
            problem: format!("{unknown:?} is not a {} binding (known: {})", method.as_str(), known.join(", ")),
        });
    }
    let mut out = Map::new();
    match method {
        Method::Kubernetes => {
            for key in ["bound_service_account_names", "bound_service_account_namespaces"] {
                out.insert(key.into(), string_list(map, key, true)?.into());
            }
            if let Some(aud) = map.get("audience").filter(|v| !v.is_null()) {
                let aud = aud.as_str().ok_or_else(|| ApiError::Invalid {
                    field: "bindings",
                    problem: "audience must be a string".into(),
                })?;
                out.insert("audience".into(), aud.into());
            }
        }
        Method::Jwt => {
            out.insert("bound_audiences".into(), string_list(map, "bound_audiences", true)?.into());
            if let Some(sub) = map.get("bound_subject").filter(|v| !v.is_null()) {
                let sub = sub.as_str().ok_or_else(|| ApiError::Invalid {
                    field: "bindings",
                    problem: "bound_subject must be a string".into(),
                })?;
                out.insert("bound_subject".into(), sub.into());
            }
            if let Some(claims) = map.get("bound_claims").filter(|v| !v.is_null()) {
                let Value::Object(claims) = claims else {
                    return Err(ApiError::Invalid {
                        field: "bindings",
                        problem: "bound_claims must be an object".into(),
                    });
                };
                let mut checked = Map::new();
                for claim in claims.keys() {
                    checked.insert(claim.clone(), string_list(claims, claim, true)?.into());
                }
                out.insert("bound_claims".into(), checked.into());
            }
            // An audience alone admits every token its issuer mints for it (any pod of the
            // cluster, any repository of a CI provider).
            if !out.contains_key("bound_subject") && !out.contains_key("bound_claims") {
                return Err(ApiError::Invalid {
                    field: "bindings",
                    problem: "a jwt role needs bound_subject or bound_claims besides bound_audiences: an audience alone admits every token of its issuer".into(),
                });
            }
        }
        Method::AppRole => {}
    }
    Ok(Value::Object(out))
}

/// Creates a login role (admins).
///
/// # Errors
/// 400 (method, name, bindings, ttl), 403, 404 (agent), 409 (name taken for the method).
pub async fn create_role(state: &AppState, caller: &Caller, new: NewRole) -> ApiResult<CreatedRole> {
    let mut op = Op::new(state, caller, Action::AuthRoleCreate);
    op.resource(new.name.chars().take(128).collect::<String>());
    let result = async {
        access::require_admin(caller, "manage login roles")?;
        // A role mints credentials of an agent: what creating an agent needs.
        access::require_scope(caller, Scope::AgentsWrite)?;
        let method = Method::parse(&new.method)?;
        super::free_text("name", &new.name, super::MAX_NAME_LEN, true)?;
        if new.name.contains('/') {
            return Err(ApiError::Invalid { field: "name", problem: "may not contain '/'".into() });
        }
        let ttl = new.token_ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
        if !(60..=MAX_TTL_SECONDS).contains(&ttl) {
            return Err(ApiError::Invalid {
                field: "token_ttl_seconds",
                problem: format!("must be 60 to {MAX_TTL_SECONDS} (logins are short-lived)"),
            });
        }
        let bindings = check_bindings(method, &new.bindings)?;
        let agent = super::agents::get(state, caller, &new.agent_id).await?;
        let secret_id = (method == Method::AppRole).then(RequestLinks::token).transpose()?;
        let role = AuthRoleRecord {
            id: Uuid::new_v4(),
            method: method.as_str().to_owned(),
            name: new.name,
            agent_id: agent.id,
            bindings: bindings.to_string(),
            secret_hash: secret_id.as_deref().map(|s| secret_hash(state, s)),
            token_ttl_seconds: ttl,
            created_by: caller.principal.id(),
            created_at: now(),
        };
        op.resource(role.id.to_string());
        op.detail("method", role.method.as_str());
        op.detail("name", role.name.as_str());
        op.detail("agent_id", agent.id.to_string());
        let event = op.success();
        state.store.create_auth_role(&role, AuditBatch::new(&state.chain_key, &[event])).await.map_err(
            |e| match e {
                StoreError::Conflict(_) => {
                    ApiError::Conflict(format!("a {} role named {:?} exists", role.method, role.name))
                }
                other => other.into(),
            },
        )?;
        Ok(CreatedRole { role, secret_id })
    }
    .await;
    op.finish(result).await
}

/// Every login role (admins).
///
/// # Errors
/// 403.
pub async fn roles(state: &AppState, caller: &Caller) -> ApiResult<Vec<AuthRoleRecord>> {
    access::require_admin(caller, "list login roles")?;
    access::require_scope(caller, Scope::AgentsRead)?;
    Ok(state.store.auth_roles().await?)
}

/// Deletes a login role (admins); tokens it issued live out their short lifetime.
///
/// # Errors
/// 403, 404.
pub async fn delete_role(state: &AppState, caller: &Caller, id: &str) -> ApiResult<()> {
    let mut op = Op::new(state, caller, Action::AuthRoleDelete);
    op.resource(id.to_owned());
    let result = async {
        access::require_admin(caller, "manage login roles")?;
        access::require_scope(caller, Scope::AgentsWrite)?;
        let id = super::id(id, "role id")?;
        let event = op.success();
        if state.store.delete_auth_role(id, AuditBatch::new(&state.chain_key, &[event])).await? {
            Ok(())
        } else {
            Err(ApiError::NotFound(format!("no login role {id}")))
        }
    }
    .await;
    op.finish(result).await
}

/// The one answer to a failed login: which check failed is in the audit event, not in the
/// answer (Vault answers 400 for failed logins).
fn refused() -> ApiError {
    ApiError::BadRequest("login refused: invalid role or credentials".into())
}

/// Issues the token of `role`'s agent, if the agent still stands.
async fn issue(state: &AppState, op: &mut Op<'_>, role: AuthRoleRecord) -> ApiResult<Login> {
    let agent = state.store.agent(role.agent_id).await?.ok_or_else(refused)?;
    let at = time::OffsetDateTime::now_utc();
    if !agent.is_active || agent.expires_at.is_some_and(|e| e <= at) {
        op.detail("refused", "the role's agent is deactivated or expired");
        return Err(refused());
    }
    let ttl = role.token_ttl_seconds.min(agent.token_ttl_seconds.unwrap_or(role.token_ttl_seconds));
    let shortened = AgentRecord { token_ttl_seconds: Some(ttl), ..agent.clone() };
    let (token, ttl) = state.tokens.issue_agent(&shortened).map_err(|e| ApiError::Internal(e.to_string()))?;
    op.actor("agent", agent.id.to_string());
    Ok(Login { token, ttl, agent, role })
}

/// What a Kubernetes service-account token says of its account: `(namespace, name)`.
fn service_account(claims: &Map<String, Value>) -> Option<(String, String)> {
    let sub = claims.get("sub").and_then(Value::as_str)?;
    let rest = sub.strip_prefix("system:serviceaccount:")?;
    let (namespace, name) = rest.split_once(':')?;
    Some((namespace.to_owned(), name.to_owned()))
}

fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

fn bound(list: &Value, value: &str) -> bool {
    list.as_array().is_some_and(|items| items.iter().any(|i| i.as_str().is_some_and(|i| i == "*" || i == value)))
}

/// Whether the claims satisfy the role's bindings (`None`), or which one they miss.
fn unmet(method: Method, bindings: &Value, claims: &Map<String, Value>) -> Option<&'static str> {
    match method {
        Method::Kubernetes => {
            let Some((namespace, name)) = service_account(claims) else { return Some("not a service-account token") };
            if !bound(&bindings["bound_service_account_namespaces"], &namespace) {
                return Some("namespace not bound");
            }
            if !bound(&bindings["bound_service_account_names"], &name) {
                return Some("service account not bound");
            }
            // A legacy-lifetime token (extended to a year for old clients) is taken only until
            // its warnafter, the lifetime it was really issued for: a copied token dies as the
            // pod's own would.
            if let Some(warn) = claims.get("kubernetes.io").and_then(|k| k.get("warnafter")).and_then(Value::as_i64)
                && time::OffsetDateTime::now_utc().unix_timestamp() > warn
            {
                return Some("past its warnafter");
            }
            if let Some(aud) = bindings.get("audience").and_then(Value::as_str)
                && !audiences(claims).iter().any(|a| a == aud)
            {
                return Some("audience not bound");
            }
            None
        }
        Method::Jwt => {
            if !audiences(claims).iter().any(|a| bound(&bindings["bound_audiences"], a) && a != "*") {
                return Some("audience not bound");
            }
            if let Some(sub) = bindings.get("bound_subject").and_then(Value::as_str)
                && claims.get("sub").and_then(Value::as_str) != Some(sub)
            {
                return Some("subject not bound");
            }
            if let Some(Value::Object(wanted)) = bindings.get("bound_claims") {
                for (claim, values) in wanted {
                    let ok = match claims.get(claim) {
                        Some(Value::String(v)) => bound(values, v),
                        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(|v| bound(values, v)),
                        _ => false,
                    };
                    if !ok {
                        return Some("a bound claim does not match");
                    }
                }
            }
            None
        }
        Method::AppRole => Some("not a JWT method"),
    }
}

/// A Kubernetes or JWT login with role `role_name`.
///
/// # Errors
/// 400 for every refusal (as Vault), 429 past the failure budget of an address.
pub async fn login_jwt(
    state: &AppState,
    ip: Option<IpAddr>,
    method: Method,
    role_name: &str,
    jwt: &str,
) -> ApiResult<Login> {
    let mut op = Op::anonymous(state, ip, Action::AuthLogin);
    op.detail("method", method.as_str());
    op.detail("role", role_name.chars().take(128).collect::<String>());
    let result = async {
        if jwt.is_empty() || jwt.len() > MAX_JWT_LEN {
            return Err(ApiError::BadRequest("jwt is missing or too long".into()));
        }
        let role = state.store.auth_role(method.as_str(), role_name).await?.ok_or_else(refused)?;
        op.resource(role.id.to_string());
        let (source, issuer, what) = match method {
            Method::Kubernetes => {
                (state.config.kubernetes_jwks.as_deref(), state.config.kubernetes_issuer.as_deref(), "kubernetes_jwks")
            }
            _ => (state.config.jwt_jwks.as_deref(), state.config.jwt_issuer.as_deref(), "jwt_jwks"),
        };
        let claims = state.jwks.verify(what, source, issuer, jwt).await.map_err(|e| match e {
            JwtError::NotConfigured(_) => ApiError::Unavailable(e.to_string()),
            // Where the keys are and why they cannot be read is for the server's log, not for
            // an anonymous caller.
            JwtError::Keys(detail) => {
                tracing::error!(%detail, "a login's key set cannot be read");
                ApiError::Unavailable("this login is unavailable: the server cannot read its key set".into())
            }
            JwtError::Invalid(why) => {
                op.detail("refused", why);
                refused()
            }
        })?;
        let bindings: Value = serde_json::from_str(&role.bindings)
            .map_err(|e| ApiError::Integrity(format!("login role {} has bindings that do not parse: {e}", role.id)))?;
        if let Some(why) = unmet(method, &bindings, &claims) {
            op.detail("refused", why);
            return Err(refused());
        }
        if let Some(sub) = claims.get("sub").and_then(Value::as_str) {
            op.detail("subject", sub.chars().take(256).collect::<String>());
        }
        issue(state, &mut op, role).await
    }
    .await;
    op.finish(result).await
}

/// An AppRole login.
///
/// # Errors
/// 400 for every refusal (as Vault), 429 past the failure budget of an address.
pub async fn login_approle(state: &AppState, ip: Option<IpAddr>, role_id: &str, secret_id: &str) -> ApiResult<Login> {
    let mut op = Op::anonymous(state, ip, Action::AuthLogin);
    op.detail("method", Method::AppRole.as_str());
    let result = async {
        let invalid = || ApiError::BadRequest("invalid role or secret ID".into());
        let id = Uuid::parse_str(role_id.trim()).map_err(|_| invalid())?;
        op.resource(id.to_string());
        let role = state.store.auth_role_by_id(id).await?.filter(|r| r.method == "approle").ok_or_else(invalid)?;
        let expected = role.secret_hash.clone().ok_or_else(invalid)?;
        if !bool::from(secret_hash(state, secret_id).ct_eq(&expected)) {
            return Err(invalid());
        }
        issue(state, &mut op, role).await
    }
    .await;
    op.finish(result).await
}
