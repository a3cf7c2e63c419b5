//! Routes of the credential-injecting proxy and what each identity spent on them.

use clawvault_store::{AuditBatch, ProxyRouteRecord, ProxyUsageRecord, Result};
use rusqlite::{Row, params};
use uuid::Uuid;

use crate::audit::OwnedAudit;
use crate::convert::{get, micros, time};
use crate::sql::{all, execute};
use crate::{SqliteStore, backend};

fn route(row: &Row<'_>) -> Result<ProxyRouteRecord> {
    Ok(ProxyRouteRecord {
        name: get(row, "name")?,
        vault_id: get(row, "vault_id")?,
        spec: get(row, "spec")?,
        created_by: get(row, "created_by")?,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}

fn usage(row: &Row<'_>) -> Result<ProxyUsageRecord> {
    Ok(ProxyUsageRecord {
        principal_id: get(row, "principal_id")?,
        route: get(row, "route")?,
        day: get(row, "day")?,
        requests: get(row, "requests")?,
        response_bytes: get(row, "response_bytes")?,
    })
}

impl SqliteStore {
    pub(crate) async fn put_proxy_route_impl(
        &self,
        r: &ProxyRouteRecord,
        replace: bool,
        audit: AuditBatch<'_>,
    ) -> Result<bool> {
        let (r, audit) = (r.clone(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                let touched = if replace {
                    execute(
                        c,
                        "UPDATE proxy_routes SET vault_id = ?2, spec = ?3, updated_at = ?4 WHERE name = ?1",
                        params![r.name, r.vault_id, r.spec, micros(r.updated_at)],
                    )
                } else {
                    execute(
                        c,
                        "INSERT INTO proxy_routes (name, vault_id, spec, created_by, created_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING",
                        params![r.name, r.vault_id, r.spec, r.created_by, micros(r.created_at), micros(r.updated_at)],
                    )
                }
                .map_err(backend)?;
                if touched == 0 {
                    return Ok(false);
                }
                audit.append(c)?;
                Ok(true)
            })
            .await
    }

    pub(crate) async fn proxy_routes_impl(&self) -> Result<Vec<ProxyRouteRecord>> {
        self.readers.read(|c| all(c, "SELECT * FROM proxy_routes ORDER BY name", [], route))
    }

    pub(crate) async fn delete_proxy_route_impl(&self, name: &str, audit: AuditBatch<'_>) -> Result<bool> {
        let (name, audit) = (name.to_owned(), OwnedAudit::from(audit));
        self.writer()?
            .write(move |c| {
                let done = execute(c, "DELETE FROM proxy_routes WHERE name = ?", params![name]).map_err(backend)? > 0;
                if done {
                    audit.append(c)?;
                }
                Ok(done)
            })
            .await
    }

    pub(crate) async fn add_proxy_usage_impl(&self, rows: &[ProxyUsageRecord]) -> Result<()> {
        let rows = rows.to_vec();
        self.writer()?
            .write(move |c| {
                for u in &rows {
                    execute(
                        c,
                        "INSERT INTO proxy_usage (principal_id, route, day, requests, response_bytes) \
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (day, route, principal_id) DO UPDATE SET \
                         requests = requests + ?4, response_bytes = response_bytes + ?5",
                        params![u.principal_id, u.route, u.day, u.requests, u.response_bytes],
                    )
                    .map_err(backend)?;
                }
                Ok(())
            })
            .await
    }

    pub(crate) async fn proxy_usage_impl(
        &self,
        since_day: i64,
        route: Option<&str>,
        principal_id: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ProxyUsageRecord>> {
        let route = route.map(str::to_owned);
        self.readers.read(|c| {
            all(
                c,
                "SELECT * FROM proxy_usage WHERE day >= ?1 AND (?2 IS NULL OR route = ?2) \
                 AND (?3 IS NULL OR principal_id = ?3) ORDER BY day, route, principal_id LIMIT ?4",
                params![since_day, route, principal_id, limit],
                usage,
            )
        })
    }
}
