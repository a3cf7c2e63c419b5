//! The proxy's routes and usage: `/v1/proxy/routes` (admins make, replace and delete; users
//! read) and `GET /v1/proxy/usage` (each identity its own; admins everyone's).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use clawvault_core::action::Action;
use clawvault_core::route::{Budget, Injection, RouteDraft, SizeLimits, Timeouts};
use clawvault_core::time_util::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::json::ApiJson;
use crate::op::Asker;
use crate::service::audit::refused;
use crate::service::routes::{self, RouteView, UsageFilter};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(show, replace, delete)).routes(routes!(usage))
}

/// A route as written: a preset with the secret it injects, and any field that replaces the
/// preset's; or, without a preset, `upstream` and `inject`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteIn {
    /// The route's name (`POST` only): the segment after `/proxy/`.
    #[serde(default)]
    name: Option<String>,
    /// The vault (name or id) of the secrets its injections name.
    vault: String,
    /// `openai`, `anthropic`, `github`, `telegram` or `discord`.
    preset: Option<String>,
    /// With a preset: the path of the secret it injects.
    secret: Option<String>,
    /// Base URL the path after `/proxy/<name>` is appended to.
    upstream: Option<String>,
    /// Where values go: `{"in": "header", "name": "Authorization", "value": "Bearer {{secret:PATH}}"}`,
    /// `{"in": "query", "name": "key", "value": "{{secret:PATH}}"}`, `{"in": "path", "value": "bot{{secret:PATH}}"}`.
    #[schema(value_type = Option<Vec<Object>>)]
    inject: Option<Vec<Injection>>,
    /// Methods forwarded (default: GET, HEAD, POST, PUT, PATCH, DELETE).
    methods: Option<Vec<String>>,
    /// Path prefixes forwarded (default: every path).
    path_prefixes: Option<Vec<String>>,
    /// `connect_seconds`, `answer_seconds`, `idle_seconds`.
    #[schema(value_type = Option<Object>)]
    timeouts: Option<Timeouts>,
    /// `max_request_bytes`, `max_response_bytes`.
    #[schema(value_type = Option<Object>)]
    limits: Option<SizeLimits>,
    /// Each identity's budget: `requests_per_minute`, `requests_per_day`,
    /// `response_bytes_per_day`, `concurrent`.
    #[schema(value_type = Option<Object>)]
    budget: Option<Budget>,
}

impl RouteIn {
    fn draft(self) -> (Option<String>, String, RouteDraft) {
        let draft = RouteDraft {
            preset: self.preset,
            secret: self.secret,
            upstream: self.upstream,
            inject: self.inject,
            methods: self.methods,
            path_prefixes: self.path_prefixes,
            timeouts: self.timeouts,
            limits: self.limits,
            budget: self.budget,
        };
        (self.name, self.vault, draft)
    }
}

/// A route.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteOut {
    name: String,
    /// Where clients point their base URL (relative to the server).
    base_path: String,
    vault: Option<String>,
    vault_id: Uuid,
    /// The definition: `upstream`, `inject`, `methods`, `path_prefixes`, `timeouts`, `limits`,
    /// `budget`, `preset`.
    #[schema(value_type = Object)]
    route: serde_json::Value,
    created_by: Uuid,
    created_at: String,
    updated_at: String,
    /// Why this server cannot use it, when it cannot.
    problem: Option<String>,
}

impl From<RouteView> for RouteOut {
    fn from(v: RouteView) -> Self {
        Self {
            base_path: format!("/proxy/{}", v.name),
            name: v.name,
            vault: v.vault_name,
            vault_id: v.vault_id,
            route: serde_json::to_value(&v.spec).unwrap_or_default(),
            created_by: v.created_by,
            created_at: rfc3339(v.created_at),
            updated_at: rfc3339(v.updated_at),
            problem: v.problem,
        }
    }
}

/// Every route.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteList {
    routes: Vec<RouteOut>,
}

/// Every route, by name (users only).
#[utoipa::path(get, path = "/v1/proxy/routes", tag = "proxy",
    responses((status = 200, body = RouteList), (status = 403, body = crate::error::ProblemDoc)))]
async fn list(State(state): State<AppState>, Authenticated(caller): Authenticated) -> ApiResult<Json<RouteList>> {
    let routes = routes::list(&state, &caller).await?;
    Ok(Json(RouteList { routes: routes.into_iter().map(RouteOut::from).collect() }))
}

/// Make a route (admins).
#[utoipa::path(post, path = "/v1/proxy/routes", tag = "proxy", request_body = RouteIn,
    responses((status = 201, body = RouteOut), (status = 400, body = crate::error::ProblemDoc),
              (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc),
              (status = 409, body = crate::error::ProblemDoc)))]
async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    body: Result<ApiJson<RouteIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<RouteOut>)> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::ProxyRouteWrite, "", e).await),
    };
    let (name, vault, draft) = b.draft();
    let Some(name) = name else {
        let e = ApiError::Invalid { field: "name", problem: "is required".into() };
        return Err(refused(&state, Asker::Caller(&caller), Action::ProxyRouteWrite, "", e).await);
    };
    let spec = match draft.build() {
        Ok(s) => s,
        Err(e) => {
            let e = ApiError::Invalid { field: e.field, problem: e.problem };
            return Err(refused(&state, Asker::Caller(&caller), Action::ProxyRouteWrite, &name, e).await);
        }
    };
    let view = routes::put(&state, &caller, &name, &vault, spec, false).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// One route (users only).
#[utoipa::path(get, path = "/v1/proxy/routes/{name}", tag = "proxy", params(("name" = String, Path)),
    responses((status = 200, body = RouteOut), (status = 403, body = crate::error::ProblemDoc),
              (status = 404, body = crate::error::ProblemDoc)))]
async fn show(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Json<RouteOut>> {
    Ok(Json(routes::get(&state, &caller, &name).await?.into()))
}

/// Replace a route (admins); calls made after the answer use the new definition.
#[utoipa::path(put, path = "/v1/proxy/routes/{name}", tag = "proxy", params(("name" = String, Path)),
    request_body = RouteIn,
    responses((status = 200, body = RouteOut), (status = 400, body = crate::error::ProblemDoc),
              (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc)))]
async fn replace(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
    body: Result<ApiJson<RouteIn>, ApiError>,
) -> ApiResult<Json<RouteOut>> {
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::ProxyRouteWrite, &name, e).await),
    };
    let (named, vault, draft) = b.draft();
    let spec = match (named.filter(|n| *n != name), draft.build()) {
        (Some(_), _) => {
            Err(ApiError::Invalid { field: "name", problem: "differs from the route's name in the path".into() })
        }
        (None, Ok(s)) => Ok(s),
        (None, Err(e)) => Err(ApiError::Invalid { field: e.field, problem: e.problem }),
    };
    let spec = match spec {
        Ok(s) => s,
        Err(e) => return Err(refused(&state, Asker::Caller(&caller), Action::ProxyRouteWrite, &name, e).await),
    };
    Ok(Json(routes::put(&state, &caller, &name, &vault, spec, true).await?.into()))
}

/// Delete a route (admins); calls through it stop at once.
#[utoipa::path(delete, path = "/v1/proxy/routes/{name}", tag = "proxy", params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::ProblemDoc), (status = 404, body = crate::error::ProblemDoc)))]
async fn delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    routes::delete(&state, &caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which usage to show.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// Days back from today (0, the default: today only; at most 90).
    days: Option<i64>,
    /// One route.
    route: Option<String>,
    /// One identity (agent or user id; admins only for another's).
    principal_id: Option<Uuid>,
}

/// What one identity spent on one route on one day.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageOut {
    /// UTC day, `YYYY-MM-DD`.
    day: String,
    route: String,
    principal_id: Uuid,
    /// The agent's or user's name.
    principal: String,
    requests: i64,
    response_bytes: i64,
}

/// Usage rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageList {
    usage: Vec<UsageOut>,
}

/// Calls and answer bytes per day, route and identity: the caller's own, or (admins)
/// everyone's.
#[utoipa::path(get, path = "/v1/proxy/usage", tag = "proxy", params(UsageQuery),
    responses((status = 200, body = UsageList), (status = 400, body = crate::error::ProblemDoc),
              (status = 403, body = crate::error::ProblemDoc)))]
async fn usage(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<UsageQuery>,
) -> ApiResult<Json<UsageList>> {
    let filter = UsageFilter { days: q.days.unwrap_or(0), route: q.route, principal_id: q.principal_id };
    let rows = routes::usage(&state, &caller, filter).await?;
    let names = routes::names_of(&state, &rows).await?;
    let usage = rows
        .into_iter()
        .map(|r| UsageOut {
            day: day_text(r.day),
            principal: names.get(&r.principal_id).cloned().unwrap_or_default(),
            route: r.route,
            principal_id: r.principal_id,
            requests: r.requests,
            response_bytes: r.response_bytes,
        })
        .collect();
    Ok(Json(UsageList { usage }))
}

fn day_text(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400).map(|t| t.date().to_string()).unwrap_or_default()
}
