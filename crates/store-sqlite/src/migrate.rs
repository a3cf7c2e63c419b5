//! Schema migrations: numbered SQL files applied in order, each in its own transaction,
//! recorded in `schema_migrations`.

use clawvault_core::time_util::{now, unix_micros};
use clawvault_store::Result;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::backend;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_agents_policies_shares.sql")),
    (3, include_str!("migrations/0003_agent_token_generation.sql")),
    (4, include_str!("migrations/0004_closed_history_and_shared_versions.sql")),
    (5, include_str!("migrations/0005_hashed_share_ids.sql")),
    (6, include_str!("migrations/0006_share_creating_key.sql")),
    (7, include_str!("migrations/0007_secret_requests.sql")),
    (8, include_str!("migrations/0008_kv_settings.sql")),
    (9, include_str!("migrations/0009_auth_roles.sql")),
    (10, include_str!("migrations/0010_secret_events.sql")),
    (11, include_str!("migrations/0011_consumers.sql")),
    (12, include_str!("migrations/0012_proxy_routes.sql")),
    (13, include_str!("migrations/0013_audit_log.sql")),
    (14, include_str!("migrations/0014_audit_pending.sql")),
    (15, include_str!("migrations/0015_audit_runs.sql")),
];

pub(crate) fn run(conn: &mut Connection) -> Result<()> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        [],
    )
    .map_err(backend)?;
    for &(version, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        let done: Option<i64> = tx
            .query_row("SELECT version FROM schema_migrations WHERE version = ?", [version], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        if done.is_some() {
            continue;
        }
        tx.execute_batch(sql).map_err(backend)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
            params![version, unix_micros(now())],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}
