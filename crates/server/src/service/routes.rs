//! Managing the proxy's routes, and reading what was spent on them. Admins make, replace and
//! delete routes (a route decides where secret values are sent); users read them; everyone
//! reads their own usage, admins everyone's.

use std::collections::HashMap;

use clawvault_core::action::Action;
use clawvault_core::route::{self, RouteSpec};
use clawvault_core::scope::Scope;
use clawvault_core::time_util::now;
use clawvault_store::{AuditBatch, Change, ProxyRouteRecord, ProxyUsageRecord};
use time::OffsetDateTime;
use uuid::Uuid;

use super::access;
use crate::auth::Caller;
use crate::budgets;
use crate::caches::routes::Entry;
use crate::changes;
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use crate::state::AppState;

/// A route as shown.
#[derive(Debug, Clone)]
pub struct RouteView {
    /// Name.
    pub name: String,
    /// The vault its placeholders name secrets of.
    pub vault_id: Uuid,
    /// That vault's name (absent when it was deleted).
    pub vault_name: Option<String>,
    /// The definition.
    pub spec: RouteSpec,
    /// Who made it.
    pub created_by: Uuid,
    /// Made.
    pub created_at: OffsetDateTime,
    /// Last replaced.
    pub updated_at: OffsetDateTime,
    /// Why this server cannot use it, if it cannot.
    pub problem: Option<String>,
}

/// Makes the route `name` (or replaces it when `replace`), forwarding with secrets of
/// `vault_ref`.
///
/// # Errors
/// 400 for a bad name or definition, 403 for non-admins, 404 for an unknown vault (or, when
/// replacing, route), 409 when making a route whose name is taken.
pub async fn put(
    state: &AppState,
    caller: &Caller,
    name: &str,
    vault_ref: &str,
    spec: RouteSpec,
    replace: bool,
) -> ApiResult<RouteView> {
    let mut op = Op::new(state, caller, Action::ProxyRouteWrite);
    op.resource(name.to_owned());
    let result = put_in(state, &mut op, caller, name, vault_ref, spec, replace).await;
    op.finish(result).await
}

async fn put_in(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    name: &str,
    vault_ref: &str,
    spec: RouteSpec,
    replace: bool,
) -> ApiResult<RouteView> {
    access::require_scope(caller, Scope::ProxyWrite)?;
    access::require_admin(caller, "manage proxy routes")?;
    route::check_name(name).map_err(invalid)?;
    let upstream = spec.check().map_err(invalid)?;
    let vault = state.vault(vault_ref).await?.ok_or_else(|| {
        ApiError::NotFound(format!("there is no vault {vault_ref:?}")).hint(crate::error::Hint::ListVaults)
    })?;
    op.vault(vault.record.id);
    op.detail("upstream", format!("{}://{}:{}{}", upstream.scheme, upstream.host, upstream.port, upstream.base_path));
    op.detail("secrets", spec.paths().iter().map(|p| p.as_str().to_owned()).collect::<Vec<_>>());
    op.detail("replace", replace);
    let at = now();
    let record = ProxyRouteRecord {
        name: name.to_owned(),
        vault_id: vault.record.id,
        spec: serde_json::to_string(&spec).map_err(|e| ApiError::Internal(e.to_string()))?,
        created_by: caller.principal.id(),
        created_at: at,
        updated_at: at,
    };
    let event = [op.success()];
    let changed = [Change::ProxyRoutes];
    let done = state
        .store
        .put_proxy_route(&record, replace, AuditBatch::new(&state.chain_key, &event).changing(&changed))
        .await?;
    if !done {
        return Err(if replace {
            ApiError::NotFound(format!("there is no proxy route {name:?} to replace"))
        } else {
            ApiError::Conflict(format!("a proxy route named {name:?} exists: replace it, or delete it first"))
        });
    }
    changes::committed(state, &changed).await;
    view_of(state, name).await
}

fn invalid(e: route::RouteError) -> ApiError {
    ApiError::Invalid { field: e.field, problem: e.problem }
}

/// Every route, by name.
///
/// # Errors
/// 403 for agents and keys without `proxy:read`.
pub async fn list(state: &AppState, caller: &Caller) -> ApiResult<Vec<RouteView>> {
    let op = Op::new(state, caller, Action::ProxyRouteList);
    let result = async {
        access::require_scope(caller, Scope::ProxyRead)?;
        access::require_user(caller, "list proxy routes")?;
        let records = state.store.proxy_routes().await?;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            out.push(view(state, r).await?);
        }
        Ok(out)
    }
    .await;
    op.finish(result).await
}

/// The route `name`.
///
/// # Errors
/// 403 as [`list`], 404.
pub async fn get(state: &AppState, caller: &Caller, name: &str) -> ApiResult<RouteView> {
    let mut op = Op::new(state, caller, Action::ProxyRouteList);
    op.resource(name.to_owned());
    let result = async {
        access::require_scope(caller, Scope::ProxyRead)?;
        access::require_user(caller, "read proxy routes")?;
        view_of(state, name).await
    }
    .await;
    op.finish(result).await
}

async fn view_of(state: &AppState, name: &str) -> ApiResult<RouteView> {
    let record = state
        .store
        .proxy_routes()
        .await?
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("there is no proxy route {name:?}")))?;
    view(state, record).await
}

async fn view(state: &AppState, r: ProxyRouteRecord) -> ApiResult<RouteView> {
    let parsed = serde_json::from_str::<RouteSpec>(&r.spec);
    let problem = match state.routes.get(&r.name) {
        Some(Entry::Broken(b)) => Some(b.problem),
        _ => parsed.as_ref().err().map(|e| format!("its stored definition does not parse: {e}")),
    };
    let spec = parsed.unwrap_or_else(|_| RouteSpec {
        upstream: String::new(),
        inject: Vec::new(),
        methods: Vec::new(),
        path_prefixes: Vec::new(),
        timeouts: route::Timeouts::default(),
        limits: route::SizeLimits::default(),
        budget: route::Budget::default(),
        preset: None,
    });
    let vault_name = state.vault(&r.vault_id.to_string()).await?.map(|v| v.record.name.clone());
    Ok(RouteView {
        name: r.name,
        vault_id: r.vault_id,
        vault_name,
        spec,
        created_by: r.created_by,
        created_at: r.created_at,
        updated_at: r.updated_at,
        problem,
    })
}

/// Deletes the route `name`; calls through it stop at once.
///
/// # Errors
/// 403 for non-admins, 404.
pub async fn delete(state: &AppState, caller: &Caller, name: &str) -> ApiResult<()> {
    let mut op = Op::new(state, caller, Action::ProxyRouteDelete);
    op.resource(name.to_owned());
    let result = async {
        access::require_scope(caller, Scope::ProxyWrite)?;
        access::require_admin(caller, "manage proxy routes")?;
        let event = [op.success()];
        let changed = [Change::ProxyRoutes];
        let done =
            state.store.delete_proxy_route(name, AuditBatch::new(&state.chain_key, &event).changing(&changed)).await?;
        if !done {
            return Err(ApiError::NotFound(format!("there is no proxy route {name:?}")));
        }
        changes::committed(state, &changed).await;
        Ok(())
    }
    .await;
    op.finish(result).await
}

/// Which usage to show.
#[derive(Debug, Clone, Default)]
pub struct UsageFilter {
    /// Days back from today (0: today only).
    pub days: i64,
    /// One route.
    pub route: Option<String>,
    /// One identity (admins only; others always see their own).
    pub principal_id: Option<Uuid>,
}

/// Longest look back, in days.
pub const MAX_USAGE_DAYS: i64 = 90;

/// Usage rows by day, route and identity, current to the call (this server's counts are
/// written first).
///
/// # Errors
/// 400 for a look-back out of range, 403 for a non-admin asking about someone else.
pub async fn usage(state: &AppState, caller: &Caller, filter: UsageFilter) -> ApiResult<Vec<ProxyUsageRecord>> {
    let mut op = Op::new(state, caller, Action::ProxyUsage);
    op.resource(filter.route.clone().unwrap_or_default());
    let result = async {
        access::require_scope(caller, Scope::ProxyRead)?;
        if !(0..=MAX_USAGE_DAYS).contains(&filter.days) {
            return Err(ApiError::Invalid { field: "days", problem: format!("must be 0 to {MAX_USAGE_DAYS}") });
        }
        let me = caller.principal.id();
        let principal = match filter.principal_id {
            Some(id) if id != me && !caller.principal.is_admin() => {
                return Err(ApiError::Forbidden("only an admin may read another identity's proxy usage".into()));
            }
            Some(id) => Some(id),
            None if caller.principal.is_admin() => None,
            None => Some(me),
        };
        state.budgets.flush(state.store.as_ref()).await?;
        let since = budgets::today() - filter.days;
        let rows = state.store.proxy_usage(since, filter.route.as_deref(), principal, budgets::MAX_USAGE_ROWS).await?;
        Ok(rows)
    }
    .await;
    op.finish(result).await
}

/// The names of the identities in `rows`, for display (agents and users by id).
///
/// # Errors
/// Storage failures.
pub async fn names_of(state: &AppState, rows: &[ProxyUsageRecord]) -> ApiResult<HashMap<Uuid, String>> {
    let mut names = HashMap::new();
    for r in rows {
        if names.contains_key(&r.principal_id) {
            continue;
        }
        let name = match state.store.agent(r.principal_id).await? {
            Some(a) => a.name,
            None => state.store.user(r.principal_id).await?.map(|u| u.name).unwrap_or_default(),
        };
        names.insert(r.principal_id, name);
    }
    Ok(names)
}
