//! The proxy's routes as this server uses them: each parsed once, with the client of its
//! upstream (whose connections are pooled across calls). The whole table is loaded again
//! whenever a route changes anywhere (`Change::ProxyRoutes`); there are few routes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use clawvault_core::SecretPath;
use clawvault_core::redact::Redactor;
use clawvault_core::route::{RouteSpec, Upstream};
use clawvault_store::ProxyRouteRecord;
use reqwest::header::{HeaderName, HeaderValue};
use uuid::Uuid;
use zeroize::Zeroizing;

/// What a route's injections put into a forwarded request.
pub struct Filled {
    /// Headers to set (replacing the caller's of the same name).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Query parameters to set: the name as the route writes it, the value already encoded.
    pub query: Vec<(String, Zeroizing<String>)>,
    /// The first path segment, already encoded.
    pub segment: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Filled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filled").field("headers", &self.headers.len()).finish_non_exhaustive()
    }
}

/// A route's values in place for the versions they were opened at: reused while those are
/// the current versions (building the redactor's matcher costs more than the rest of a call).
/// Never kept for a secret with a read limit, whose every use is counted.
#[derive(Debug)]
pub struct Prepared {
    /// `(secret id, version)` of each secret, in the route's order.
    pub versions: Vec<(Uuid, i64)>,
    /// The values, in place.
    pub filled: Filled,
    /// Replaces every value, in every encoding, in what comes back.
    pub redactor: Arc<Redactor>,
}

/// A route ready for calls.
#[derive(Debug)]
pub struct LoadedRoute {
    /// As stored.
    pub record: ProxyRouteRecord,
    /// The definition.
    pub spec: RouteSpec,
    /// Where it forwards.
    pub upstream: Upstream,
    /// The secrets its injections use.
    pub paths: Vec<SecretPath>,
    /// The client of its upstream.
    pub client: reqwest::Client,
    /// Its values, prepared for the current versions (dropped with the route on any change
    /// to a route).
    pub prepared: Mutex<Option<Arc<Prepared>>>,
}

/// A stored route this server cannot use (a definition an older or newer server wrote): its
/// calls are refused with the reason.
#[derive(Debug, Clone)]
pub struct BrokenRoute {
    /// Why.
    pub problem: String,
}

/// One route of the table.
#[derive(Debug, Clone)]
pub enum Entry {
    /// Usable.
    Ready(Arc<LoadedRoute>),
    /// Not usable.
    Broken(BrokenRoute),
}

/// Every route by name.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: RwLock<Arc<HashMap<String, Entry>>>,
}

impl RouteTable {
    /// The route named `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Entry> {
        self.routes.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(name).cloned()
    }

    /// Replaces the table with routes built from `records`; `client` makes each upstream's client.
    pub fn load(&self, records: Vec<ProxyRouteRecord>, client: impl Fn(Duration) -> Result<reqwest::Client, String>) {
        let mut table = HashMap::with_capacity(records.len());
        for record in records {
            let name = record.name.clone();
            let entry = match build(record, &client) {
                Ok(route) => Entry::Ready(Arc::new(route)),
                Err(problem) => {
                    tracing::warn!(route = %name, %problem, "a proxy route cannot be used");
                    Entry::Broken(BrokenRoute { problem })
                }
            };
            table.insert(name, entry);
        }
        *self.routes.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(table);
    }
}

fn build(
    record: ProxyRouteRecord,
    client: &impl Fn(Duration) -> Result<reqwest::Client, String>,
) -> Result<LoadedRoute, String> {
    let spec: RouteSpec =
        serde_json::from_str(&record.spec).map_err(|e| format!("its stored definition does not parse: {e}"))?;
    let upstream = spec.check().map_err(|e| format!("its stored definition is not valid: {e}"))?;
    let client = client(Duration::from_secs(spec.timeouts.connect_seconds))?;
    let paths = spec.paths();
    Ok(LoadedRoute { record, spec, upstream, paths, client, prepared: Mutex::new(None) })
}
