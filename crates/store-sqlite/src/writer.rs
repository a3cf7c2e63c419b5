//! Group commit. SQLite has one writer, and with `synchronous = FULL` each commit costs an
//! fsync. Instead of one transaction (and one fsync) per write, every write is a job for a single
//! writer thread that owns the write connection: it takes all jobs that queued while the
//! previous commit was being made durable, runs each inside its own savepoint (a job that fails
//! rolls back alone), commits once, and only then answers each job. Nobody hears "done" before
//! the data is on disk, and throughput grows with concurrency instead of being capped by fsync.

use clawvault_store::{Result, StoreError};
use rusqlite::{Connection, TransactionBehavior};
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::audit::OwnedAudit;
use crate::audit_query::{self, INDEX_BATCH};
use crate::backend;

/// Called once the batch's commit is known.
type Finish = Box<dyn FnOnce(Result<()>) + Send>;

/// A queued write.
trait Job: Send {
    /// Runs the statements; says whether they succeeded and how to answer after the commit.
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Finish);
    /// Answers without running (the batch could not start).
    fn abort(self: Box<Self>, error: StoreError);
}

struct Typed<T, F> {
    f: F,
    done: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Finish) {
        let Typed { f, done } = *self;
        let outcome = f(conn);
        let ok = outcome.is_ok();
        let finish: Finish = Box::new(move |commit| {
            let _ = done.send(match (outcome, commit) {
                (Ok(v), Ok(())) => Ok(v),
                (Ok(_), Err(e)) | (Err(e), _) => Err(e),
            });
        });
        (ok, finish)
    }

    fn abort(self: Box<Self>, error: StoreError) {
        let _ = self.done.send(Err(error));
    }
}

enum Msg {
    Write(Box<dyn Job>),
    /// Audit events on their own (reads, refusals): all of a batch's are appended together.
    Audit(OwnedAudit, oneshot::Sender<Result<()>>),
    Checkpoint(oneshot::Sender<()>),
    /// Index every audit event appended so far (tests, tools).
    Index(oneshot::Sender<Result<()>>),
}

/// Most jobs committed together.
const BATCH_MAX: usize = 512;

/// Handle to the writer thread.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    pub(crate) fn start(conn: Connection) -> Result<Self> {
        // Unbounded: callers are bounded by their own concurrency, and the writer thread needs
        // a receive with a timeout to notice idle time.
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("clawvault-sqlite-writer".into())
            .spawn(move || run(conn, rx))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        Ok(Self { tx })
    }

    /// Runs `f` in the next group commit and returns its result once committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (done, wait) = oneshot::channel::<Result<T>>();
        self.tx.send(Msg::Write(Box::new(Typed { f, done }))).map_err(|_| closed())?;
        wait.await.map_err(|_| closed())?
    }

    /// Appends audit events in the next group commit; returns once they are durable.
    pub(crate) async fn audit(&self, audit: OwnedAudit) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Msg::Audit(audit, done)).map_err(|_| closed())?;
        wait.await.map_err(|_| closed())?
    }

    /// Brings the audit lookup index up to date (it otherwise catches up when the writer is idle).
    pub(crate) async fn index_audit(&self) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Msg::Index(done)).map_err(|_| closed())?;
        wait.await.map_err(|_| closed())?
    }

    /// Checkpoints the WAL into the database file (after everything queued before).
    pub(crate) async fn checkpoint(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Checkpoint(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

fn closed() -> StoreError {
    StoreError::Backend("the database writer has stopped".into())
}

fn run(mut conn: Connection, rx: mpsc::Receiver<Msg>) {
    let mut jobs: Vec<Box<dyn Job>> = Vec::with_capacity(BATCH_MAX);
    let mut audits: Vec<(OwnedAudit, oneshot::Sender<Result<()>>)> = Vec::with_capacity(BATCH_MAX);
    loop {
        let first = match rx.recv_timeout(IDLE) {
            Ok(msg) => msg,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = index_when_idle(&mut conn) {
                    tracing::warn!(error = %e, "indexing audit events failed; filtered audit queries scan instead");
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut next = Some(first);
        let mut checkpoints = Vec::new();
        let mut index_requests = Vec::new();
        while let Some(msg) = next.take() {
            match msg {
                Msg::Write(job) => jobs.push(job),
                Msg::Audit(a, done) => audits.push((a, done)),
                Msg::Checkpoint(done) => checkpoints.push(done),
                Msg::Index(done) => index_requests.push(done),
            }
            if jobs.len() + audits.len() < BATCH_MAX {
                next = rx.try_recv().ok();
            }
        }
        if !jobs.is_empty() || !audits.is_empty() {
            commit_batch(&mut conn, &mut jobs, &mut audits);
        }
        for done in index_requests {
            let _ = done.send(index_all(&mut conn));
        }
        if let Err(e) = index_under_load(&mut conn) {
            tracing::warn!(error = %e, "indexing audit events failed; filtered audit queries scan instead");
        }
        for done in checkpoints {
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
            let _ = done.send(());
        }
    }
}

fn commit_batch(
    conn: &mut Connection,
    jobs: &mut Vec<Box<dyn Job>>,
    audits: &mut Vec<(OwnedAudit, oneshot::Sender<Result<()>>)>,
) {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = backend(e);
            for job in jobs.drain(..) {
                job.abort(e.clone());
            }
            for (_, done) in audits.drain(..) {
                let _ = done.send(Err(e.clone()));
            }
            return;
        }
    };
    let mut finishes = Vec::with_capacity(jobs.len());
    let mut broken = None;
    for job in jobs.drain(..) {
        if let Some(e) = &broken {
            job.abort(StoreError::clone(e));
            continue;
        }
        let sp = match tx.savepoint() {
            Ok(sp) => sp,
            Err(e) => {
                let e = backend(e);
                job.abort(e.clone());
                broken = Some(e);
                continue;
            }
        };
        let (ok, finish) = job.run(&sp);
        finishes.push(finish);
        // A failed job is undone alone; the others in the batch still commit.
        let end = if ok { sp.commit() } else { sp.finish() };
        if let Err(e) = end {
            broken = Some(backend(e));
        }
    }
    // Standalone audit events share one append: one chain-head update per batch.
    let (merged, answers): (Vec<OwnedAudit>, Vec<_>) = audits.drain(..).unzip();
    let audited = match (&broken, OwnedAudit::merge(merged)) {
        (None, Some(all)) => append_alone(&mut tx, all),
        (Some(e), _) => Err(StoreError::clone(e)),
        (None, None) => Ok(()),
    };
    // If savepoint bookkeeping failed, nothing in this batch is trusted: undo all of it.
    let commit = match broken {
        Some(e) => {
            let _ = tx.rollback();
            Err(e)
        }
        None => tx.commit().map_err(backend),
    };
    for finish in finishes {
        finish(commit.clone());
    }
    let audit_result = audited.and(commit);
    for done in answers {
        let _ = done.send(audit_result.clone());
    }
}

/// Appends in a savepoint of its own, so that a failed append leaves no partial chain behind
/// and the batch's other writes still commit.
fn append_alone(tx: &mut rusqlite::Transaction<'_>, audit: OwnedAudit) -> Result<()> {
    let sp = tx.savepoint().map_err(backend)?;
    match audit.append(&sp) {
        Ok(()) => sp.commit().map_err(backend),
        Err(e) => {
            let _ = sp.finish();
            Err(e)
        }
    }
}

/// No message for this long means the writer is idle: time to index.
const IDLE: Duration = Duration::from_millis(50);
/// Unindexed events a query may have to scan before indexing is worth a transaction.
const INDEX_TAIL: i64 = 256;
/// Backlog at which indexing runs between commits even under load...
const INDEX_BACKLOG: i64 = 4 * INDEX_BATCH;
/// ...in steps small enough that the commits queued behind one wait a few milliseconds only.
const INDEX_STEP: i64 = 256;

fn index_when_idle(conn: &mut Connection) -> Result<()> {
    if audit_query::pending(conn)? >= INDEX_TAIL {
        index_batch(conn, INDEX_BATCH)?;
    }
    Ok(())
}

fn index_under_load(conn: &mut Connection) -> Result<()> {
    if audit_query::pending(conn)? >= INDEX_BACKLOG {
        index_batch(conn, INDEX_STEP)?;
    }
    Ok(())
}

fn index_batch(conn: &mut Connection, max: i64) -> Result<i64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let n = audit_query::index_next(&tx, max)?;
    tx.commit().map_err(backend)?;
    Ok(n)
}

fn index_all(conn: &mut Connection) -> Result<()> {
    while index_batch(conn, INDEX_BATCH)? > 0 {}
    Ok(())
}
