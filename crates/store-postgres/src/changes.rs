//! The change log: what servers keep in memory and must forget when another server changes
//! it. Each change is a row written in the transaction of the write that causes it, with a
//! position taken under `change_head`'s row lock (so positions are in commit order), and a
//! `NOTIFY` that wakes idle followers. Followers read the log, so a missed notification
//! (a reconnect, a busy listener) delays nothing a request depends on: a request first
//! catches up with the log itself.

use std::sync::Arc;
use std::time::Duration;

use crate::sql;
use crate::sql::PgListener;
use crate::sql::{PgConnection, PgPool};
use clawvault_store::{Change, ChangeBatch, Result};
use tokio::sync::Notify;

use crate::backend;
use crate::rows::get;

const CHANNEL: &str = "clawvault_changes";
/// Changes kept in the log; a follower that falls further behind starts afresh.
const RETENTION: &str = "1 hour";
/// Changes returned per call.
const PAGE: i64 = 10_000;

/// Records `changes` in the caller's transaction and announces them at its commit.
pub(crate) async fn record(conn: &mut PgConnection, changes: &[Change]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    // Runs in a writer batch, which took the change head's lock first.
    let n = i64::try_from(changes.len()).unwrap_or(i64::MAX);
    let texts: Vec<String> = changes.iter().map(Change::encode).collect();
    // One statement: take n positions, write the changes, announce the last position.
    sql::query(
        "WITH head AS (UPDATE change_head SET seq = seq + $1 WHERE id = 1 RETURNING seq), \
         written AS (INSERT INTO changes (seq, change) \
           SELECT head.seq - $1 + c.ord, c.change FROM head, UNNEST($2::TEXT[]) WITH ORDINALITY AS c(change, ord)) \
         SELECT pg_notify($3, seq::TEXT) FROM head",
    )
    .bind(n)
    .bind(texts)
    .bind(CHANNEL)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn position(pool: &PgPool) -> Result<i64> {
    sql::query_scalar("SELECT seq FROM change_head WHERE id = 1").fetch_one(pool).await.map_err(backend)
}

/// Every change after `position`, read a page at a time: a request must not pass changes
/// beyond the first page unapplied.
pub(crate) async fn since(pool: &PgPool, position: i64) -> Result<ChangeBatch> {
    let mut batch = ChangeBatch { position, changes: Vec::new(), complete: true };
    loop {
        let rows = sql::query("SELECT seq, change FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(batch.position)
            .bind(PAGE)
            .fetch_all(pool)
            .await
            .map_err(backend)?;
        for row in &rows {
            let seq: i64 = get(row, "seq")?;
            if seq != batch.position + 1 {
                // Pruned: the pruner keeps the newest change, so a gap means changes were
                // lost to this follower.
                batch.complete = false;
            }
            let text: String = get(row, "change")?;
            match Change::decode(&text) {
                Some(c) => batch.changes.push(c),
                None => batch.complete = false,
            }
            batch.position = seq;
        }
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) < PAGE {
            return Ok(batch);
        }
    }
}

/// Listens for announcements and wakes `signal` for each, and after every reconnect (which
/// may have missed some). Also prunes the log now and then.
pub(crate) async fn listen(pool: PgPool, signal: Arc<Notify>) -> Result<()> {
    let mut listener = PgListener::connect_with(&pool).await.map_err(backend)?;
    listener.listen(CHANNEL).await.map_err(backend)?;
    tokio::spawn(async move {
        let mut prune = tokio::time::interval(Duration::from_secs(60));
        while !pool.is_closed() {
            tokio::select! {
                got = listener.try_recv() => match got {
                    Ok(Some(_)) => signal.notify_one(),
                    Ok(None) => {
                        tracing::warn!("the change listener lost its database connection; reconnecting");
                        signal.notify_one();
                    }
                    Err(e) => {
                        tracing::warn!(error = %crate::describe(&e), "the change listener failed; retrying");
                        signal.notify_one();
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
                _ = prune.tick() => {
                    let pruned = sql::dynamic(format!(
                        "DELETE FROM changes WHERE created_at < now() - interval '{RETENTION}' \
                         AND seq < (SELECT seq FROM change_head WHERE id = 1)"
                    ))
                    .execute(&pool)
                    .await;
                    if let Err(e) = pruned {
                        tracing::warn!(error = %crate::describe(&e), "pruning the change log failed");
                    }
                }
            }
        }
    });
    Ok(())
}
