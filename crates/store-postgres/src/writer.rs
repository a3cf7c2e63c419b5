//! Group commit for one server: writes (and the audit events of reads) queued while the
//! previous transaction was committing run together in the next one, each inside its own
//! savepoint; their audit events are left in the chain's inbox in that transaction
//! ([`crate::chain`]). A write that fails (a compare-and-set conflict, say) rolls back to its
//! savepoint and the others commit; each caller hears back only after the batch's commit.
//! Batches of writes of all servers take `change_head`'s row lock first, which numbers changes
//! and secret events in commit order and puts every batch's locks in one order (change head,
//! then the rows written), so no two batches wait on each other in a cycle; batched, the
//! servers of a cluster pay one WAL flush under that lock per batch instead of one per write.
//!
//! A batch of audit events alone (reads, refusals) is one INSERT into the inbox, outside any
//! transaction, and takes no lock another server waits for: replicas' reads commit side by
//! side, and PostgreSQL flushes their commits together.

use std::future::Future;
use std::pin::Pin;

use clawvault_store::{Result, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::audit::{self, OwnedAudit};
use crate::backend;
use crate::sql::{self, PgConnection, PgPool, PoolConnection, Postgres};

/// A boxed future borrowing the connection.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Tells a caller how its write ended, once the batch's commit is known.
type Reply = Box<dyn FnOnce(Result<()>) + Send>;

/// A write: runs on the batch's connection and says whether it succeeded (so its savepoint is
/// released or rolled back) and how to answer its caller.
type Work = Box<dyn for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, (bool, Reply)> + Send>;

/// A queued job.
enum Job {
    /// A change with its audit events, in a savepoint of its own.
    Write(Work),
    /// Audit events alone (reads, refusals): consecutive ones are appended together, in one
    /// statement, without savepoints.
    Audit(OwnedAudit, oneshot::Sender<Result<()>>),
}

/// Jobs per transaction at most, so no caller waits behind an endless batch.
const MAX_BATCH: usize = 256;
/// Writes (savepoints) per transaction at most: PostgreSQL keeps up to 64 subtransactions of
/// a transaction in shared memory; past that every other session's snapshots get slower.
const MAX_WRITES: usize = 60;

/// The queue of this server's writes.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
    stop: std::sync::Arc<tokio::sync::Notify>,
}

impl Writer {
    pub(crate) fn start(pool: PgPool) -> Self {
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let stop = std::sync::Arc::new(tokio::sync::Notify::new());
        let stopping = std::sync::Arc::clone(&stop);
        tokio::spawn(async move {
            // The writer keeps a connection of its own: waiting in the pool's queue behind
            // every reader would hold up each batch, and every read waits for its batch.
            let mut conn: Option<PoolConnection<Postgres>> = None;
            loop {
                let first = tokio::select! {
                    job = rx.recv() => match job {
                        Some(job) => job,
                        None => break,
                    },
                    // Jobs still queued are dropped: their callers hear that the write was
                    // not made. At shutdown none are left (requests have drained).
                    () = stopping.notified() => break,
                };
                let mut writes = usize::from(matches!(first, Job::Write(_)));
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH && writes < MAX_WRITES {
                    match rx.try_recv() {
                        Ok(job) => {
                            writes += usize::from(matches!(job, Job::Write(_)));
                            batch.push(job);
                        }
                        Err(_) => break,
                    }
                }
                run(&pool, &mut conn, batch).await;
            }
        });
        Self { jobs, stop }
    }

    /// Ends the writer, which hands its connection back to the pool (closing the pool waits
    /// for every connection).
    pub(crate) fn stop(&self) {
        self.stop.notify_one();
    }

    /// Runs `work` in the next batch; its result is returned once the batch has committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: Work = Box::new(move |conn| {
            Box::pin(async move {
                let outcome = work(conn).await;
                let ok = outcome.is_ok();
                let reply: Reply = Box::new(move |commit: Result<()>| {
                    let _ = tx.send(commit.and(outcome));
                });
                (ok, reply)
            })
        });
        self.jobs.send(Job::Write(job)).map_err(|_| closed())?;
        // A job dropped unrun (its batch could not start) closes the channel; the writer has
        // logged why.
        rx.await.map_err(|_| unmade())?
    }

    /// Appends audit events in the next batch; returns once the batch has committed.
    pub(crate) async fn audit(&self, events: OwnedAudit) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(Job::Audit(events, tx)).map_err(|_| closed())?;
        rx.await.map_err(|_| unmade())?
    }
}

fn closed() -> StoreError {
    StoreError::Backend("the store is closed".into())
}

fn unmade() -> StoreError {
    StoreError::Backend("the database write could not be made; see the server log".into())
}

async fn run(pool: &PgPool, slot: &mut Option<PoolConnection<Postgres>>, batch: Vec<Job>) {
    if slot.is_none() {
        match pool.acquire().await {
            Ok(c) => *slot = Some(c),
            Err(e) => {
                tracing::error!(error = %crate::describe(&e), "no database connection for a batch of writes");
                return;
            }
        }
    }
    let Some(conn) = slot.as_mut() else { return };
    let batch = match events_alone(conn, batch).await {
        Alone::Done => return,
        Alone::Failed => {
            slot.take().map(PoolConnection::detach);
            return;
        }
        Alone::Transaction(batch) => batch,
    };
    // The change head's row lock comes first: every batch of every server then takes its
    // locks in one order (change head, rows written), so no two batches can wait on each
    // other in a cycle.
    if let Err(e) =
        sql::raw_sql("BEGIN; SELECT seq FROM change_head WHERE id = 1 FOR UPDATE").execute(&mut **conn).await
    {
        tracing::error!(error = %crate::describe(&e), "cannot begin a batch of writes");
        let _ = sql::raw_sql("ROLLBACK").execute(&mut **conn).await;
        // Closed, not returned: it may be mid-transaction.
        slot.take().map(PoolConnection::detach);
        return;
    }
    let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
    // Set when the transaction can no longer be trusted: PostgreSQL answers COMMIT of an
    // aborted transaction by rolling it back without an error, so it must not be committed.
    let mut broken: Option<StoreError> = None;
    let mut pending: Option<OwnedAudit> = None;
    let mut open = false;
    for job in batch {
        match job {
            Job::Audit(events, reply) => {
                match &mut pending {
                    Some(p) => p.extend(events),
                    None => pending = Some(events),
                }
                replies.push(Box::new(move |r| {
                    let _ = reply.send(r);
                }));
            }
            Job::Write(work) => {
                // Events queued before this write come before its own in the chain.
                if let Some(events) = pending.take()
                    && let Err(e) = audit::append(conn, &events).await
                {
                    broken = Some(e);
                    break;
                }
                // The previous write's savepoint is released with the next one's start, in one
                // round trip (COMMIT releases the last).
                let begin = if open { "RELEASE SAVEPOINT job; SAVEPOINT job" } else { "SAVEPOINT job" };
                if let Err(e) = sql::raw_sql(begin).execute(&mut **conn).await {
                    broken = Some(backend(e));
                    break;
                }
                let (ok, reply) = work(conn).await;
                replies.push(reply);
                open = ok;
                if !ok
                    && let Err(e) =
                        sql::raw_sql("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job").execute(&mut **conn).await
                {
                    broken = Some(backend(e));
                    break;
                }
            }
        }
    }
    if broken.is_none()
        && let Some(events) = pending.take()
        && let Err(e) = audit::append(conn, &events).await
    {
        broken = Some(e);
    }
    let outcome = match broken {
        None => sql::raw_sql("COMMIT").execute(&mut **conn).await.map(|_| ()).map_err(backend),
        Some(e) => {
            tracing::error!(error = %e, "a batch of writes failed; rolling it back");
            let _ = sql::raw_sql("ROLLBACK").execute(&mut **conn).await;
            Err(e)
        }
    };
    if outcome.is_err() {
        // The connection may be mid-transaction: close it, the next batch takes a fresh one.
        slot.take().map(PoolConnection::detach);
    }
    for reply in replies {
        reply(outcome.clone());
    }
}

/// What became of a batch offered to [`events_alone`].
enum Alone {
    /// Left in the inbox and answered.
    Done,
    /// Answered with an error; the connection is in doubt.
    Failed,
    /// For a transaction that takes the change head's lock: it holds writes, changes or secret
    /// events.
    Transaction(Vec<Job>),
}

/// Leaves a batch of audit events alone in the chain's inbox, without the change head's lock
/// ([`OwnedAudit::leave`]).
async fn events_alone(conn: &mut PgConnection, batch: Vec<Job>) -> Alone {
    let mut merged: Option<OwnedAudit> = None;
    for job in &batch {
        match job {
            Job::Audit(events, _) => match &mut merged {
                Some(m) => m.extend(events.clone()),
                None => merged = Some(events.clone()),
            },
            Job::Write(_) => return Alone::Transaction(batch),
        }
    }
    let Some(events) = merged.filter(OwnedAudit::events_only) else {
        return Alone::Transaction(batch);
    };
    let result = events.leave(conn).await;
    if let Err(e) = &result {
        tracing::error!(error = %e, "a batch of audit events failed");
    }
    let failed = result.is_err();
    for job in batch {
        if let Job::Audit(_, reply) = job {
            let _ = reply.send(result.clone());
        }
    }
    if failed { Alone::Failed } else { Alone::Done }
}
