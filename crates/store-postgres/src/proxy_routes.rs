//! Routes of the credential-injecting proxy and what each identity spent on them.

use clawvault_store::{AuditBatch, ProxyRouteRecord, ProxyUsageRecord, Result};
use uuid::Uuid;

use crate::PgStore;
use crate::rows::{self, get};
use crate::sql::{self, PgRow};

fn route(row: &PgRow) -> Result<ProxyRouteRecord> {
    Ok(ProxyRouteRecord {
        name: get(row, "name")?,
        vault_id: get(row, "vault_id")?,
        spec: get(row, "spec")?,
        created_by: get(row, "created_by")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

fn usage(row: &PgRow) -> Result<ProxyUsageRecord> {
    Ok(ProxyUsageRecord {
        principal_id: get(row, "principal_id")?,
        route: get(row, "route")?,
        day: get(row, "day")?,
        requests: get(row, "requests")?,
        response_bytes: get(row, "response_bytes")?,
    })
}

pub(crate) async fn put(s: &PgStore, r: &ProxyRouteRecord, replace: bool, batch: AuditBatch<'_>) -> Result<bool> {
    let r = r.clone();
    let q = if replace {
        sql::query("UPDATE proxy_routes SET vault_id = $2, spec = $3, updated_at = $4 WHERE name = $1")
            .bind(r.name)
            .bind(r.vault_id)
            .bind(r.spec)
            .bind(r.updated_at)
    } else {
        sql::query(
            "INSERT INTO proxy_routes (name, vault_id, spec, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
        )
        .bind(r.name)
        .bind(r.vault_id)
        .bind(r.spec)
        .bind(r.created_by)
        .bind(r.created_at)
        .bind(r.updated_at)
    };
    Ok(s.audited(vec![q], "", batch).await? > 0)
}

pub(crate) async fn list(s: &PgStore) -> Result<Vec<ProxyRouteRecord>> {
    rows::many(s, sql::query("SELECT * FROM proxy_routes ORDER BY name COLLATE \"C\""), route).await
}

pub(crate) async fn delete(s: &PgStore, name: &str, batch: AuditBatch<'_>) -> Result<bool> {
    let q = sql::query("DELETE FROM proxy_routes WHERE name = $1").bind(name.to_owned());
    Ok(s.audited(vec![q], "", batch).await? > 0)
}

pub(crate) async fn add_usage(s: &PgStore, rows: &[ProxyUsageRecord]) -> Result<()> {
    let rows = rows.to_vec();
    s.write(move |tx| {
        Box::pin(async move {
            for u in rows {
                sql::query(
                    "INSERT INTO proxy_usage (principal_id, route, day, requests, response_bytes) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (day, route, principal_id) DO UPDATE SET \
                     requests = proxy_usage.requests + EXCLUDED.requests, \
                     response_bytes = proxy_usage.response_bytes + EXCLUDED.response_bytes",
                )
                .bind(u.principal_id)
                .bind(u.route)
                .bind(u.day)
                .bind(u.requests)
                .bind(u.response_bytes)
                .execute(&mut *tx)
                .await
                .map_err(crate::backend)?;
            }
            Ok(())
        })
    })
    .await
}

pub(crate) async fn usage_since(
    s: &PgStore,
    since_day: i64,
    route: Option<&str>,
    principal_id: Option<Uuid>,
    limit: u32,
) -> Result<Vec<ProxyUsageRecord>> {
    let q = sql::query(
        "SELECT * FROM proxy_usage WHERE day >= $1 AND ($2::TEXT IS NULL OR route = $2) \
         AND ($3::UUID IS NULL OR principal_id = $3) ORDER BY day, route COLLATE \"C\", principal_id LIMIT $4",
    )
    .bind(since_day)
    .bind(route.map(str::to_owned))
    .bind(principal_id)
    .bind(i64::from(limit));
    rows::many(s, q, usage).await
}
