//! The audit events' lookup index on PostgreSQL, filled behind the chain: a round of chaining
//! writes the events' rows (their primary key only) and the chain head, and a background task of every
//! server merges the lookups of each whole run of [`AUDIT_LOOKUP_RUN`] appended events into
//! `audit_lookup`, under the run's own key prefix, whichever server takes `audit_indexed`'s row
//! lock first (the others skip the round). Queries seek each run listed in `audit_runs` for
//! their candidates up to the mark and scan the events after it by sequence number.

use std::time::Duration;

use clawvault_store::{AUDIT_LOOKUP_RUN, AuditFilter, Result};

use crate::backend;
use crate::sql::{self, PgPool, Postgres, QueryBuilder};

/// How often a server looks for a whole run to merge.
const EVERY: Duration = Duration::from_millis(50);

/// Whether a merge waits for another server's merge to finish, or leaves the round to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    Wait,
    Skip,
}

/// Merges the lookups of the next run of `len` events past the mark, if all are appended.
/// Returns whether it merged.
///
/// # Errors
/// Database failures.
async fn merge_run(pool: &PgPool, len: i64, turn: Turn) -> Result<bool> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let lock = match turn {
        Turn::Wait => "SELECT seq FROM audit_indexed WHERE id = 1 FOR UPDATE",
        Turn::Skip => "SELECT seq FROM audit_indexed WHERE id = 1 FOR UPDATE SKIP LOCKED",
    };
    let mark: Option<i64> = sql::query_scalar(lock).fetch_optional(&mut *tx).await.map_err(backend)?;
    let Some(from) = mark else { return Ok(false) };
    let to = from + len;
    // Sequence numbers are taken under the head's lock and committed in order, so the run is
    // whole when its last event is visible.
    let whole: bool = sql::query_scalar("SELECT EXISTS (SELECT 1 FROM audit_events WHERE seq = $1)")
        .bind(to)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
    if !whole {
        return Ok(false);
    }
    sql::query(
        "INSERT INTO audit_lookup (kind, run, value, seq) SELECT kind, $1, value, seq FROM ( \
           SELECT 1::smallint AS kind, action AS value, seq FROM audit_events WHERE seq > $1 AND seq <= $2 \
           UNION ALL SELECT 2, actor_id, seq FROM audit_events WHERE seq > $1 AND seq <= $2 \
           UNION ALL SELECT 3, resource_id, seq FROM audit_events WHERE seq > $1 AND seq <= $2 \
           UNION ALL SELECT 4, lpad((extract(epoch FROM created_at) * 1000000)::bigint::text, 20, '0'), seq \
             FROM audit_events WHERE seq > $1 AND seq <= $2 \
         ) l ORDER BY kind, value, seq ON CONFLICT DO NOTHING",
    )
    .bind(from)
    .bind(to)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    sql::query("INSERT INTO audit_runs (run) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(from)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    sql::query("UPDATE audit_indexed SET seq = $1 WHERE id = 1").bind(to).execute(&mut *tx).await.map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(true)
}

/// Merges every whole run appended, waiting for any other server's merge first (so that,
/// when it returns, every whole run is merged).
///
/// # Errors
/// Database failures.
pub(crate) async fn index_all(pool: &PgPool) -> Result<()> {
    while merge_run(pool, AUDIT_LOOKUP_RUN, Turn::Wait).await? {}
    Ok(())
}

/// Keeps the index caught up until the pool closes (a round another server is at is left to it).
pub(crate) fn spawn(pool: PgPool) {
    tokio::spawn(async move {
        while !pool.is_closed() {
            tokio::time::sleep(EVERY).await;
            let mut merged = Ok(true);
            while let Ok(true) = merged {
                merged = merge_run(&pool, AUDIT_LOOKUP_RUN, Turn::Skip).await;
            }
            if let Err(e) = merged
                && !pool.is_closed()
            {
                tracing::warn!(error = %e, "indexing audit events failed; filtered audit queries scan instead");
            }
        }
    });
}

fn time_key(t: time::OffsetDateTime) -> String {
    format!("{:020}", t.unix_timestamp_nanos() / 1000)
}

/// Each candidate to its event, by one primary-key lookup: a fence (OFFSET 0) keeps the
/// planner from joining the other way round, which it did on statistics not yet gathered for
/// a table just grown (a scan of every event, repeated for each one the filters kept: tens of
/// seconds for a filtered query over 30,000 events).
const CANDIDATES_TO_EVENTS: &str =
    ") cand CROSS JOIN LATERAL (SELECT * FROM audit_events WHERE seq = cand.seq OFFSET 0) e";

/// Pushes the rows matching `f` as a parenthesised source named `e`: candidates from the lookup
/// index up to `mark` and from a scan after it, checked against every filter.
pub(crate) fn source(q: &mut QueryBuilder<Postgres>, f: &AuditFilter, mark: i64) {
    let equalities = [(1i16, "action", &f.action), (3, "resource_id", &f.resource_id), (2, "actor_id", &f.actor_id)];
    // The most selective filter drives the candidates; the others are checked on the rows.
    let driver = equalities.iter().rev().find(|(_, _, v)| v.is_some());
    q.push("(SELECT e.* FROM ");
    if let Some((kind, column, Some(value))) = driver {
        // One index seek per run on the whole key prefix: without the fence (OFFSET 0) the
        // planner flattens the subquery and scans every run's lookups of the kind instead.
        q.push("(SELECT l.seq FROM audit_runs r CROSS JOIN LATERAL (SELECT seq FROM audit_lookup WHERE run = r.run AND kind = ")
            .push_bind(*kind)
            .push(" AND value = ")
            .push_bind(value.clone())
            .push(" AND seq <= ")
            .push_bind(mark)
            .push(" OFFSET 0) l UNION ALL SELECT seq FROM audit_events WHERE seq > ")
            .push_bind(mark)
            .push(format!(" AND {column} = "))
            .push_bind(value.clone())
            .push(CANDIDATES_TO_EVENTS);
    } else if f.from.is_some() || f.to.is_some() {
        let lo = f.from.map_or_else(|| "0".repeat(20), time_key);
        let hi = f.to.map_or_else(|| "9".repeat(20), time_key);
        q.push("(SELECT l.seq FROM audit_runs r CROSS JOIN LATERAL (SELECT seq FROM audit_lookup WHERE run = r.run AND kind = 4 AND value >= ")
            .push_bind(lo)
            .push(" AND value <= ")
            .push_bind(hi)
            .push(" AND seq <= ")
            .push_bind(mark)
            .push(" OFFSET 0) l UNION ALL SELECT seq FROM audit_events WHERE seq > ")
            .push_bind(mark)
            .push(CANDIDATES_TO_EVENTS);
    } else {
        q.push("audit_events e");
    }
    q.push(" WHERE TRUE");
    for (_, column, value) in &equalities {
        if let Some(v) = value {
            q.push(format!(" AND e.{column} = ")).push_bind((*v).clone());
        }
    }
    if let Some(t) = f.from {
        q.push(" AND e.created_at >= ").push_bind(t);
    }
    if let Some(t) = f.to {
        q.push(" AND e.created_at <= ").push_bind(t);
    }
    q.push(") e");
}
