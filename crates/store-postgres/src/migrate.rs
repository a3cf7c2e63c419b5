//! Schema migrations: numbered SQL files applied in order, each in its own transaction and
//! recorded in `schema_migrations`, under an advisory lock so that replicas starting at the
//! same moment apply each migration exactly once.

use crate::sql;
use crate::sql::PgPool;
use clawvault_store::Result;

use crate::backend;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_closed_history_and_shared_versions.sql")),
    (3, include_str!("migrations/0003_hashed_share_ids.sql")),
    (4, include_str!("migrations/0004_share_creating_key.sql")),
    (5, include_str!("migrations/0005_secret_requests.sql")),
    (6, include_str!("migrations/0006_kv_settings.sql")),
    (7, include_str!("migrations/0007_auth_roles.sql")),
    (8, include_str!("migrations/0008_secret_events.sql")),
    (9, include_str!("migrations/0009_consumers.sql")),
    (10, include_str!("migrations/0010_proxy_routes.sql")),
    (11, include_str!("migrations/0011_audit_lookup.sql")),
    (12, include_str!("migrations/0012_audit_runs.sql")),
    (13, include_str!("migrations/0013_audit_inbox.sql")),
];

/// `pg_advisory_lock` key of clawvault's migrations ("clawvlt1" as a number).
const LOCK_KEY: i64 = 0x636c_6177_766c_7431;

pub(crate) async fn run(pool: &PgPool) -> Result<()> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    sql::query("SELECT pg_advisory_lock($1)").bind(LOCK_KEY).execute(&mut *conn).await.map_err(backend)?;
    let result = apply(&mut conn).await;
    // Unlock even after a failure; a lost connection releases the lock by itself.
    let unlocked = sql::query("SELECT pg_advisory_unlock($1)").bind(LOCK_KEY).execute(&mut *conn).await;
    result?;
    unlocked.map(|_| ()).map_err(backend)
}

async fn apply(conn: &mut sql::PgConnection) -> Result<()> {
    sql::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    for &(version, sql) in MIGRATIONS {
        let done: Option<i64> = sql::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
        if done.is_some() {
            continue;
        }
        let mut tx = sql::Connection::begin(&mut *conn).await.map_err(backend)?;
        sql::raw_sql(sql).execute(&mut *tx).await.map_err(backend)?;
        sql::query("INSERT INTO schema_migrations (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}
