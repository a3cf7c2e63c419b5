//! One call through the credential-injecting proxy, as the service layer sees it: the caller
//! (already authenticated by what its SDK sent) needs `use` on every secret the route's
//! injections name and room in its budget on the route; only then are the values opened and
//! filled into what the surface forwards, with a redactor for every echo of them. Nothing
//! reaches the upstream on a refusal, and every refusal is audited. A forwarded call is
//! audited once, when it ends, with its status, sizes and time (never a body or a header's
//! value).

use std::sync::Arc;
use std::time::Instant;

use clawvault_core::SecretPath;
use clawvault_core::action::Action;
use clawvault_core::egress::{ALLOWED_HOSTS, AllowedHosts};
use clawvault_core::placeholder;
use clawvault_core::policy::Permission;
use clawvault_core::redact::Redactor;
use clawvault_core::route::Injection;
use clawvault_core::scope::Scope;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{HeaderName, HeaderValue};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{access, reveal, secrets};
use crate::auth::Caller;
use crate::budgets::Slot;
use crate::caches::SealedVersion;
use crate::caches::routes::{Entry, Filled, LoadedRoute, Prepared};
use crate::error::{ApiError, ApiResult, Hint};
use crate::op::Op;
use crate::state::AppState;
use crate::state::OpenVault;

/// Longest path an audit event keeps of a call.
const MAX_AUDITED_PATH: usize = 512;
/// Longest value a route injects: provider keys are well under it, and every call builds a
/// matcher of some forty encoded forms of each value it injects.
pub const MAX_INJECTED_BYTES: usize = 16 * 1024;

/// Characters of a value put in a path segment that stay as they are: RFC 3986's `pchar`
/// without `%` (a Telegram token's `:` stays).
const SEGMENT_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// A call's request, as the surface received it.
#[derive(Debug)]
pub struct CallRequest<'a> {
    /// The route's name.
    pub route: &'a str,
    /// Method.
    pub method: &'a str,
    /// The path after the route (and after the credential's segment on routes that put a
    /// value there), starting with `/`, without the query.
    pub path: &'a str,
    /// The body's announced length.
    pub content_length: Option<u64>,
}

/// An admitted call: what to forward, and the facts its audit event will carry.
#[derive(Debug)]
pub struct Admitted {
    /// The route.
    pub route: Arc<LoadedRoute>,
    /// The values in place, and the redactor of every echo of them.
    pub prepared: Arc<Prepared>,
    /// Counts against the budget while the call lasts.
    pub slot: Slot,
    /// For the audit event.
    pub facts: CallFacts,
}

/// What a call's audit event says besides how it ended.
#[derive(Debug)]
pub struct CallFacts {
    caller: Caller,
    route: String,
    vault_id: Option<Uuid>,
    method: String,
    path: String,
    used: Vec<(String, i64)>,
    started: Instant,
}

impl CallFacts {
    /// The facts of a call refused before it was admitted or forwarded.
    fn of(caller: &Caller, call: &CallRequest<'_>) -> Self {
        Self {
            caller: caller.clone(),
            route: call.route.to_owned(),
            vault_id: None,
            method: call.method.to_owned(),
            path: call.path.chars().take(MAX_AUDITED_PATH).collect(),
            used: Vec::new(),
            started: Instant::now(),
        }
    }
}

/// How a forwarded call ended.
#[derive(Debug)]
pub struct CallEnd {
    /// The status the caller got (the upstream's, or the proxy's own when the upstream failed).
    pub status: u16,
    /// Request body bytes sent on.
    pub request_bytes: u64,
    /// Answer body bytes read from the upstream.
    pub response_bytes: u64,
    /// `complete`, `cut` (size limit), `idle`, `failed`, `caller_left`.
    pub ended: &'static str,
    /// Why the call failed, when it did.
    pub error: Option<ApiError>,
}

/// Admits `call` by `caller`.
///
/// # Errors
/// 403 without `use` on a route's secret, or for a method or path the route does not forward;
/// 404 for an unknown route, vault or secret; 410 for a secret that may not be opened; 413 for
/// an announced body over the route's limit; 429 when the caller's budget on the route is
/// spent; 503 for a route this server cannot use.
pub async fn admit(state: &AppState, caller: &Caller, call: &CallRequest<'_>) -> ApiResult<Admitted> {
    let mut op = Op::new(state, caller, Action::ProxyCall);
    op.resource(call.route.to_owned());
    op.detail("method", call.method);
    op.detail("path", call.path.chars().take(MAX_AUDITED_PATH).collect::<String>());
    match admit_in(state, &mut op, caller, call).await {
        Ok(admitted) => Ok(admitted),
        Err(e) => Err(op.fail(e).await),
    }
}

async fn admit_in(state: &AppState, op: &mut Op<'_>, caller: &Caller, call: &CallRequest<'_>) -> ApiResult<Admitted> {
    access::require_scope(caller, Scope::SecretsUse)?;
    check_path(call.path)?;
    let route = match state.routes.get(call.route) {
        None => return Err(ApiError::NotFound(format!("there is no proxy route {:?}", call.route))),
        Some(Entry::Broken(b)) => {
            return Err(ApiError::Unavailable(format!("proxy route {:?} cannot be used: {}", call.route, b.problem)));
        }
        Some(Entry::Ready(r)) => r,
    };
    let spec = &route.spec;
    if !spec.allows_method(call.method) {
        return Err(ApiError::Forbidden(format!(
            "proxy route {:?} does not forward {}: it forwards {}",
            call.route,
            call.method,
            if spec.methods.is_empty() {
                clawvault_core::route::DEFAULT_METHODS.join(", ")
            } else {
                spec.methods.join(", ")
            }
        )));
    }
    if !spec.allows_path(call.path) {
        return Err(ApiError::Forbidden(format!(
            "proxy route {:?} forwards only paths under {}",
            call.route,
            spec.path_prefixes.join(", ")
        )));
    }
    if let Some(len) = call.content_length
        && len > spec.limits.max_request_bytes
    {
        return Err(ApiError::PayloadTooLarge(usize::try_from(spec.limits.max_request_bytes).unwrap_or(usize::MAX)));
    }
    let vault = state
        .vault(&route.record.vault_id.to_string())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("the vault of proxy route {:?} no longer exists", call.route)))?;
    op.vault(vault.record.id);

    // Every check before anything is opened or counted.
    let mut rows = Vec::with_capacity(route.paths.len());
    for path in &route.paths {
        access::check_path(state, caller, &vault.record, path, Permission::Use).await?;
        let row = secrets::current(state, &vault, path)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no secret at {path:?} in vault {:?}", vault.record.name)))?;
        reveal::ensure_openable(&row.0, &row.1.meta, path)?;
        check_destination(&route, path, &row.1.meta.metadata)?;
        // The sealed value is a little longer than the value itself.
        if row.1.ciphertext.len() > MAX_INJECTED_BYTES + 64 {
            return Err(too_large(path));
        }
        rows.push(row);
    }
    let slot = state.budgets.admit(state.store.as_ref(), caller.principal.id(), call.route, &spec.budget).await?;

    let versions: Vec<(Uuid, i64)> = rows.iter().map(|r| (r.0.id, r.1.meta.version)).collect();
    let counted = rows.iter().any(|r| r.1.meta.max_access_count.is_some());
    let kept = route.prepared.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let prepared = match kept {
        Some(p) if !counted && p.versions == versions => p,
        _ => {
            let p = Arc::new(prepare(state, op, &route, &vault, &rows, versions).await?);
            if !counted {
                *route.prepared.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&p));
            }
            p
        }
    };
    let used = route.paths.iter().zip(&prepared.versions).map(|(p, (_, v))| (p.as_str().to_owned(), *v)).collect();
    let mut facts = CallFacts::of(caller, call);
    facts.vault_id = Some(vault.record.id);
    facts.used = used;
    Ok(Admitted { route, prepared, slot, facts })
}

/// Opens (and counts) each of the route's values at the versions of `rows`, fills them in,
/// and builds the redactor of every echo of them.
async fn prepare(
    state: &AppState,
    op: &mut Op<'_>,
    route: &LoadedRoute,
    vault: &OpenVault,
    rows: &[SealedVersion],
    versions: Vec<(Uuid, i64)>,
) -> ApiResult<Prepared> {
    let mut values = Vec::with_capacity(rows.len());
    for (path, row) in route.paths.iter().zip(rows) {
        let (_, value) = reveal::open(state, op, vault, &row.0, &row.1, path).await?;
        if value.expose().len() > MAX_INJECTED_BYTES {
            return Err(too_large(path));
        }
        values.push((path.clone(), value));
    }
    let value_of = |p: &SecretPath| values.iter().find(|(q, _)| q == p).map_or(&[][..], |(_, v)| v.expose()).to_vec();
    let filled = fill(&route.spec.inject, &value_of)?;
    // Besides every form the redaction module knows, the exact text each value was sent as in
    // a query or a path segment: an upstream echoing its request line echoes that.
    let sent_as: Vec<(&str, Vec<u8>)> = values
        .iter()
        .flat_map(|(p, v)| {
            let text = String::from_utf8_lossy(v.expose()).into_owned();
            let query: String = form_urlencoded::byte_serialize(v.expose()).collect();
            let segment = utf8_percent_encode(&text, SEGMENT_VALUE).to_string();
            [(p.as_str(), query.into_bytes()), (p.as_str(), segment.into_bytes())]
        })
        .collect();
    let all =
        values.iter().map(|(p, v)| (p.as_str(), v.expose())).chain(sent_as.iter().map(|(p, v)| (*p, v.as_slice())));
    let redactor = Arc::new(Redactor::new(all).map_err(|e| ApiError::Internal(e.to_string()))?);
    Ok(Prepared { versions, filled, redactor })
}

fn too_large(path: &SecretPath) -> ApiError {
    ApiError::Invalid {
        field: "inject",
        problem: format!("cannot carry {path:?}: a value a route injects is at most {MAX_INJECTED_BYTES} bytes"),
    }
}

/// Whether `segment` (decoded) is a dot segment, also with a `;parameter` (`..;`, which Java
/// servers read as `..`).
fn is_dot_segment(segment: &str) -> bool {
    let bare = segment.split(';').next().unwrap_or_default();
    bare == "." || bare == ".."
}

/// A forwarded path is appended to the upstream's base path: a `.` or `..` segment, written
/// or percent-encoded, or a backslash would climb out of it.
fn check_path(path: &str) -> ApiResult<()> {
    // An encoded slash stays (a branch named `feature/x` is sent as `feature%2Fx`), but not
    // one that makes a dot segment once an upstream decodes it.
    let climbs = path.split('/').any(|segment| {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        decoded.split(['/', '\\']).any(is_dot_segment)
    });
    if !path.starts_with('/') || climbs || path.contains('\\') {
        return Err(ApiError::BadRequest(
            "the path may hold no . or .. segment (written or encoded) or backslash: it is appended to the route's upstream".into(),
        ));
    }
    Ok(())
}

/// A secret whose metadata names `allowed_hosts` goes only to a host they name; one without
/// goes where the route (made by an admin) sends it.
fn check_destination(route: &LoadedRoute, path: &SecretPath, metadata: &str) -> ApiResult<()> {
    let metadata: serde_json::Value = serde_json::from_str(metadata).unwrap_or_default();
    let hosts = AllowedHosts::from_metadata(&metadata)
        .map_err(|e| ApiError::Forbidden(format!("{path:?} cannot be sent anywhere: {e}")).hint(Hint::AllowHost))?;
    if hosts.is_empty() {
        return Ok(());
    }
    let up = &route.upstream;
    let allowed = match up.literal() {
        Some(ip) => hosts.allows(&up.host, up.port, ip),
        None => hosts.may_allow(&up.host, up.port),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "{path:?} may not be sent to {}:{}: its {ALLOWED_HOSTS} do not name it",
            up.host, up.port
        ))
        .hint(Hint::AllowHost))
    }
}

fn fill(inject: &[Injection], value_of: &dyn Fn(&SecretPath) -> Vec<u8>) -> ApiResult<Filled> {
    let mut filled = Filled { headers: Vec::new(), query: Vec::new(), segment: None };
    let stored_badly = |what: &str| ApiError::Invalid {
        field: "inject",
        problem: format!(
            "cannot carry the secret's value in {what}: it holds a line break, a control character or only dots"
        ),
    };
    for injection in inject {
        let pieces = injection.pieces().map_err(|e| ApiError::Internal(e.to_string()))?;
        match injection {
            Injection::Header { name, .. } => {
                let text = Zeroizing::new(placeholder::fill(&pieces, |p| Ok::<_, ApiError>(value_of(p)))?);
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| ApiError::Internal(e.to_string()))?;
                let value = HeaderValue::from_bytes(&text).map_err(|_| stored_badly("a header"))?;
                filled.headers.push((name, value));
            }
            Injection::Query { name, .. } => {
                let text = placeholder::fill(&pieces, |p| {
                    Ok::<_, ApiError>(form_urlencoded::byte_serialize(&value_of(p)).collect::<String>().into_bytes())
                })?;
                filled.query.push((name.clone(), Zeroizing::new(String::from_utf8_lossy(&text).into_owned())));
            }
            Injection::Path { .. } => {
                let text = placeholder::fill(&pieces, |p| {
                    let value = value_of(p);
                    Ok::<_, ApiError>(
                        utf8_percent_encode(&String::from_utf8_lossy(&value), SEGMENT_VALUE).to_string().into_bytes(),
                    )
                })?;
                let segment = Zeroizing::new(String::from_utf8_lossy(&text).into_owned());
                // A value of dots would climb out of the upstream's base path.
                if is_dot_segment(&segment) {
                    return Err(stored_badly("a path segment"));
                }
                filled.segment = Some(segment);
            }
        }
    }
    Ok(filled)
}

/// Records how an admitted call ended: its audit event, durably.
pub async fn finish(state: &AppState, facts: CallFacts, end: CallEnd) {
    let mut op = Op::new(state, &facts.caller, Action::ProxyCall);
    op.resource(facts.route);
    if let Some(v) = facts.vault_id {
        op.vault(v);
    }
    op.detail("method", facts.method);
    op.detail("path", facts.path);
    op.detail("status", end.status);
    op.detail("request_bytes", end.request_bytes);
    op.detail("response_bytes", end.response_bytes);
    op.detail("latency_ms", u64::try_from(facts.started.elapsed().as_millis()).unwrap_or(u64::MAX));
    op.detail("ended", end.ended);
    op.detail(
        "secrets",
        facts.used.iter().map(|(p, v)| serde_json::json!({"path": p, "version": v})).collect::<Vec<_>>(),
    );
    let result = match end.error {
        None => Ok(()),
        Some(e) => Err(e),
    };
    // The caller has its answer; a failure to write the event is logged where it happens.
    let _ = op.finish(result).await;
}

/// Writes the budgets' counts to the store every [`crate::budgets::FLUSH_EVERY`] until the
/// server stops (the server writes the last counts itself, before the store closes).
pub fn spawn_usage_writer(state: &AppState) {
    let weak = state.downgrade();
    let mut stopping = state.stopping.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::budgets::FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
            let Some(state) = weak.upgrade() else { return };
            if let Err(e) = state.budgets.flush(state.store.as_ref()).await {
                tracing::warn!(error = %e, "writing proxy usage failed; it is tried again");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_that_climb_out_are_refused() {
        for good in ["/", "/chat/completions", "/repos/o/r/branches/feature%2Fx", "/a;b/c", "/...", "/.x"] {
            assert!(check_path(good).is_ok(), "{good}");
        }
        for bad in ["/../x", "/a/%2e%2e/x", "/a/..%2Fx", "/a/..;/x", "/a/.;/b", "/a\\b", "/a/%5c..%5c/x", "x"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_value_of_dots_is_no_path_segment() {
        let inject = [Injection::Path { value: "{{secret:k}}".into() }];
        assert!(fill(&inject, &|_| b"..".to_vec()).is_err());
        assert!(fill(&inject, &|_| b"ok".to_vec()).is_ok());
    }
}
