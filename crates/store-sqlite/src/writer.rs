//! Group commit. SQLite has one writer, and every durable step costs a sync. Instead of one
//! transaction per write, every write and every audit append is a message to a single writer
//! thread that owns the write connection and the audit trail ([`Trail`]): it takes all that
//! queued while the previous batch was being made durable, runs each write inside its own
//! savepoint (a write that fails rolls back alone, with its events), chains the batch's audit
//! events, and makes them durable with one sync: a batch of reads by the log's, a batch holding
//! writes by its commit (the events' records ride in the transaction, and reach the log after
//! it without a sync of their own). Only then does it answer. Nobody hears "done" before the
//! data and its audit event are on disk, and throughput grows with concurrency instead of being
//! capped by the sync.
//!
//! A caller with events to log and nothing to write, that finds nothing queued or in progress,
//! the trail's lock free and recent batches serving about one call each, logs them on its own
//! thread instead: at concurrency 1 handing the event to the writer thread and the answer back
//! cost two wake-ups, more than the sync itself. The trail is shared under a mutex for that;
//! whoever holds it appends, so there is still one chain in one order.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError, mpsc};

use clawvault_core::audit::ChainKey;
use clawvault_store::{Result, StoreError};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use crate::audit::OwnedAudit;
use crate::backend;
use crate::indexer::{Indexer, WriteLock};
use crate::pending;
use crate::trail::{Published, Staged, Trail};

/// The write connection as a job sees it: statements run on it (it derefs to the
/// connection), and audit events are handed to it, to be logged with the batch if the job
/// succeeds.
pub(crate) struct Tx<'c> {
    conn: &'c Connection,
    audits: RefCell<Vec<OwnedAudit>>,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl<'c> Tx<'c> {
    fn new(conn: &'c Connection) -> Self {
        Self { conn, audits: RefCell::new(Vec::new()) }
    }

    /// Adds events to the batch.
    pub(crate) fn audit(&self, audit: OwnedAudit) {
        self.audits.borrow_mut().push(audit);
    }
}

/// Called once the batch's commit is known.
type Finish = Box<dyn FnOnce(Result<()>) + Send>;

/// A queued write.
trait Job: Send {
    /// Runs the statements; says whether they succeeded, how to answer after the commit, and
    /// the audit events to log (none if they failed).
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Finish, Vec<OwnedAudit>);
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
    F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Finish, Vec<OwnedAudit>) {
        let Typed { f, done } = *self;
        let tx = Tx::new(conn);
        let outcome = f(&tx);
        let ok = outcome.is_ok();
        let audits = if ok { tx.audits.into_inner() } else { Vec::new() };
        let finish: Finish = Box::new(move |commit| {
            let _ = done.send(match (outcome, commit) {
                (Ok(v), Ok(())) => Ok(v),
                (Ok(_), Err(e)) | (Err(e), _) => Err(e),
            });
        });
        (ok, finish, audits)
    }

    fn abort(self: Box<Self>, error: StoreError) {
        let _ = self.done.send(Err(error));
    }
}

enum Msg {
    Write(Box<dyn Job>),
    /// Audit events on their own (reads, refusals): all of a batch's are appended together.
    Audit(OwnedAudit, oneshot::Sender<Result<()>>),
    /// Index everything, then checkpoint the WAL into the database file.
    Checkpoint(oneshot::Sender<()>),
    /// Sync what batches of writes left unsynced in the log, handing their events to the index.
    Sync(oneshot::Sender<()>),
    /// The chain key, so that the head is MAC'd before the first append.
    Key(ChainKey, oneshot::Sender<()>),
}

/// Most messages handled together.
const BATCH_MAX: usize = 512;
/// How long the writer waits, idle, before it syncs what batches of writes left unsynced in the
/// log (their events are durable in the database already; this bounds how long the index waits).
const IDLE_SYNC: std::time::Duration = std::time::Duration::from_millis(2);
/// Events of batches of writes left unsynced at which the writer syncs them without waiting to
/// be idle. Under a steady stream of writes the writer is never idle: without this bound the
/// log synced only once a whole `UNSYNCED_MAX` was written, and the kept rows, the sync and the
/// index's catch-up all came due together, blocking the next batch for tens of milliseconds
/// (write p99 at concurrency 1 went from 5 ms to 50–60 ms).
const SYNC_AFTER: usize = 128;

/// Handle to the writer thread.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
}

/// What the writer thread shares with callers that log their own events.
struct Shared {
    trail: Mutex<Trail>,
    indexer: Indexer,
    /// Calls queued for the writer thread or being served.
    busy: AtomicUsize,
    /// The writer thread runs (cleared when it ends, also by a panic).
    alive: AtomicBool,
    /// How many calls recent batches served. More than one says calls come faster than a
    /// sync: a caller that finds the writer free then still queues, so that its event waits
    /// for the next batch with those that follow instead of taking a sync (and a runtime
    /// thread) alone.
    crowd: Crowd,
}

/// A moving average of the calls per batch, in sixteenths. The last batch alone misled: under
/// steady concurrency the calls come in waves, a wave's first caller often finds the writer
/// free after a batch of one, and taking a sync on its runtime thread then stalled half the
/// runtime while the rest of the wave queued behind the trail's lock (at concurrency 16 about
/// one read in sixty did so; each blocked its thread for half a millisecond).
#[derive(Default)]
struct Crowd(AtomicUsize);

impl Crowd {
    const ONE: usize = 16;
    /// Weight of the newest batch: an eighth, so one batch of one after a crowd (the first
    /// call of a wave) does not make the next caller think it is alone.
    const KEEP: usize = 7;

    fn record(&self, calls: usize) {
        // Racing updates (the writer thread and a caller logging alone) may lose one sample.
        let old = self.0.load(Ordering::Acquire);
        let new = (old * Self::KEEP + calls.min(BATCH_MAX) * Self::ONE) / (Self::KEEP + 1);
        self.0.store(new, Ordering::Release);
    }

    /// Recent batches served about one call each (a fresh writer counts as such).
    fn single(&self) -> bool {
        self.0.load(Ordering::Acquire) <= Self::ONE + Self::ONE / 4
    }
}

impl Shared {
    fn trail(&self) -> MutexGuard<'_, Trail> {
        self.trail.lock().unwrap_or_else(failed)
    }

    /// The trail if nobody holds it.
    fn try_trail(&self) -> Option<MutexGuard<'_, Trail>> {
        match self.trail.try_lock() {
            Ok(trail) => Some(trail),
            Err(TryLockError::Poisoned(poisoned)) => Some(failed(poisoned)),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// A panic mid-append may have left the log and the head apart: the trail takes nothing more
/// until the store is opened again, as after a failed write.
fn failed(poisoned: PoisonError<MutexGuard<'_, Trail>>) -> MutexGuard<'_, Trail> {
    let mut trail = poisoned.into_inner();
    trail.fail();
    trail
}

/// Clears [`Shared::alive`] when the writer thread ends, however it ends.
struct Alive<'a>(&'a AtomicBool);

impl Drop for Alive<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A call counted in [`Shared::busy`] until it is dropped (answered, or its caller gone).
struct Busy<'a> {
    busy: &'a AtomicUsize,
    /// No other call was queued or being served when this one came.
    alone: bool,
}

impl<'a> Busy<'a> {
    fn enter(busy: &'a AtomicUsize) -> Self {
        let alone = busy.fetch_add(1, Ordering::AcqRel) == 0;
        Self { busy, alone }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    /// Starts the thread; returns its handle and the head it publishes.
    pub(crate) fn start(
        conn: Connection,
        trail: Trail,
        indexer: Indexer,
        lock: WriteLock,
    ) -> Result<(Self, Published)> {
        // Unbounded: callers are bounded by their own concurrency, and the writer thread needs
        // a receive with a timeout to notice idle time.
        let (tx, rx) = mpsc::channel();
        let published = trail.published();
        let shared = Arc::new(Shared {
            trail: Mutex::new(trail),
            indexer,
            busy: AtomicUsize::new(0),
            alive: AtomicBool::new(true),
            crowd: Crowd::default(),
        });
        let thread = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("clawvault-sqlite-writer".into())
            .spawn(move || {
                let _alive = Alive(&thread.alive);
                run(conn, &thread, &lock, rx);
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        Ok((Self { tx, shared }, published))
    }

    /// Runs `f` in the next group commit and returns its result once committed (with the
    /// audit events it handed over, logged).
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T> + Send + 'static,
    {
        let _busy = Busy::enter(&self.shared.busy);
        let (done, wait) = oneshot::channel::<Result<T>>();
        self.tx.send(Msg::Write(Box::new(Typed { f, done }))).map_err(|_| closed())?;
        wait.await.map_err(|_| closed())?
    }

    /// Appends audit events in the next batch (or, when nothing else is queued, on this thread
    /// at once); returns once they are durable.
    pub(crate) async fn audit(&self, audit: OwnedAudit) -> Result<()> {
        let busy = Busy::enter(&self.shared.busy);
        if busy.alone
            && self.shared.crowd.single()
            && !audit.has_secret_events()
            && let Some(mut trail) = self.shared.try_trail()
        {
            // Blocks this thread for one sync; only a caller that found nothing else to do,
            // and the trail free, does so (a writer thread still busy with a batch whose
            // callers went away, or syncing while idle, gets the event queued instead).
            self.shared.crowd.record(1);
            return log(&mut trail, &self.shared.indexer, vec![audit]);
        }
        let (done, wait) = oneshot::channel();
        self.tx.send(Msg::Audit(audit, done)).map_err(|_| closed())?;
        wait.await.map_err(|_| closed())?
    }

    /// Fails once nothing more can be done: the writer thread has stopped, or the trail takes
    /// no more events (a commit or the log failed), so that no read, which needs its event,
    /// can be answered until the server restarts.
    pub(crate) fn usable(&self) -> Result<()> {
        if !self.shared.alive.load(Ordering::Acquire) {
            return Err(closed());
        }
        self.shared
            .trail()
            .usable()
            .map_err(|e| StoreError::Backend(format!("the audit trail takes no more events ({e}); restart the server")))
    }

    /// Hands the chain key to the trail, which publishes the MAC'd head of the log as it is.
    pub(crate) async fn set_chain_key(&self, key: ChainKey) -> Result<()> {
        let _busy = Busy::enter(&self.shared.busy);
        let (done, wait) = oneshot::channel();
        self.tx.send(Msg::Key(key, done)).map_err(|_| closed())?;
        wait.await.map_err(|_| closed())
    }

    /// Syncs what batches of writes queued before left unsynced in the log, so that the
    /// index gets their events.
    pub(crate) async fn sync(&self) {
        let _busy = Busy::enter(&self.shared.busy);
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Sync(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Indexes everything and checkpoints the WAL into the database file (after everything
    /// queued before).
    pub(crate) async fn checkpoint(&self) {
        let _busy = Busy::enter(&self.shared.busy);
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Checkpoint(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

fn closed() -> StoreError {
    StoreError::Backend("the database writer has stopped".into())
}

type Answer = oneshot::Sender<Result<()>>;

fn run(mut conn: Connection, shared: &Shared, lock: &Mutex<()>, rx: mpsc::Receiver<Msg>) {
    let indexer = &shared.indexer;
    let mut jobs: Vec<Box<dyn Job>> = Vec::with_capacity(BATCH_MAX);
    let mut audits: Vec<(OwnedAudit, Answer)> = Vec::with_capacity(BATCH_MAX);
    loop {
        let unsynced = shared.trail().unsynced() > 0;
        let first = if unsynced {
            match rx.recv_timeout(IDLE_SYNC) {
                Ok(msg) => msg,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    sync(&mut shared.trail(), indexer);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(msg) => msg,
                Err(_) => break,
            }
        };
        let mut next = Some(first);
        let mut checkpoints = Vec::new();
        let mut syncs = Vec::new();
        while let Some(msg) = next.take() {
            match msg {
                Msg::Write(job) => jobs.push(job),
                Msg::Audit(a, done) => audits.push((a, done)),
                Msg::Checkpoint(done) => checkpoints.push(done),
                Msg::Sync(done) => syncs.push(done),
                Msg::Key(key, done) => {
                    shared.trail().set_key(key.clone());
                    indexer.set_key(key);
                    let _ = done.send(());
                }
            }
            if jobs.len() + audits.len() < BATCH_MAX {
                next = rx.try_recv().ok();
            }
        }
        if !jobs.is_empty() || !audits.is_empty() {
            shared.crowd.record(jobs.len() + audits.len());
        }
        let mut trail = shared.trail();
        if !jobs.is_empty() || !audits.is_empty() {
            commit_batch(&mut conn, &mut trail, indexer, lock, &mut jobs, &mut audits);
        }
        if !checkpoints.is_empty() || !syncs.is_empty() || trail.unsynced() >= SYNC_AFTER {
            sync(&mut trail, indexer);
        }
        drop(trail);
        for done in syncs {
            let _ = done.send(());
        }
        if !checkpoints.is_empty()
            && let Err(e) = indexer.flush_blocking()
        {
            tracing::warn!(error = %e, "indexing audit events before a checkpoint failed");
        }
        for done in checkpoints {
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
            let _ = done.send(());
        }
    }
    sync(&mut shared.trail(), indexer);
}

/// Syncs what batches of writes left unsynced in the log, and hands their events to the index.
fn sync(trail: &mut Trail, indexer: &Indexer) {
    match trail.sync() {
        Ok(synced) => indexer.send(synced),
        Err(e) => tracing::error!(error = %e, "syncing the audit log failed"),
    }
}

/// One batch: writes in a transaction (if any), the events of those that succeeded and of
/// the standalone appends chained and logged, the writes committed, everyone answered.
fn commit_batch(
    conn: &mut Connection,
    trail: &mut Trail,
    indexer: &Indexer,
    lock: &Mutex<()>,
    jobs: &mut Vec<Box<dyn Job>>,
    audits: &mut Vec<(OwnedAudit, Answer)>,
) {
    let (standalone, answers): (Vec<OwnedAudit>, Vec<Answer>) = audits.drain(..).unzip();
    let standalone = OwnedAudit::merge(standalone);
    let writes = !jobs.is_empty() || standalone.as_ref().is_some_and(OwnedAudit::has_secret_events);
    let outcome = if writes {
        let _held = lock.lock().unwrap_or_else(PoisonError::into_inner);
        in_transaction(conn, trail, indexer, jobs, standalone)
    } else {
        let logged = standalone.map_or(Ok(()), |a| log(trail, indexer, vec![a]));
        Batch { finishes: Vec::new(), jobs: Ok(()), audits: logged }
    };
    for finish in outcome.finishes {
        finish(outcome.jobs.clone());
    }
    for done in answers {
        let _ = done.send(outcome.audits.clone());
    }
}

/// What a batch answers: each job (its own result, then the batch's), and standalone appends.
struct Batch {
    finishes: Vec<Finish>,
    jobs: Result<()>,
    audits: Result<()>,
}

fn in_transaction(
    conn: &mut Connection,
    trail: &mut Trail,
    indexer: &Indexer,
    jobs: &mut Vec<Box<dyn Job>>,
    standalone: Option<OwnedAudit>,
) -> Batch {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = backend(e);
            for job in jobs.drain(..) {
                job.abort(e.clone());
            }
            return Batch { finishes: Vec::new(), jobs: Err(e.clone()), audits: Err(e) };
        }
    };
    let mut finishes = Vec::with_capacity(jobs.len());
    let mut events = Vec::new();
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
        let (ok, finish, audits) = job.run(&sp);
        finishes.push(finish);
        // A failed job is undone alone, with its events; the others in the batch still commit.
        let end = if ok { sp.commit() } else { sp.finish() };
        match end {
            Ok(()) => events.extend(audits),
            Err(e) => broken = Some(backend(e)),
        }
    }
    // Standalone appends that carry secret events record them in a savepoint of their own.
    let mut audits_result = Ok(());
    if let (None, Some(a)) = (&broken, standalone) {
        match append_alone(&mut tx, a) {
            Ok(a) => events.extend(a),
            Err(e) => audits_result = Err(e),
        }
    }
    if let Some(e) = broken {
        let _ = tx.rollback();
        return Batch { finishes, jobs: Err(e.clone()), audits: Err(e) };
    }
    // The events are durable with the commit (their records in `audit_pending`), and written to
    // the log after it without waiting for the disk (see `trail`).
    let staged = stage(trail, events, true);
    if let Some(s) = &staged
        && let Err(e) = trail.usable().and_then(|()| pending::keep(&tx, s, trail.synced_next()))
    {
        let _ = tx.rollback();
        return Batch { finishes, jobs: Err(e.clone()), audits: Err(e) };
    }
    let commit = tx.commit().map_err(backend);
    if commit.is_err() {
        // It may have committed all the same (an error from the sync after the WAL write).
        tracing::error!("a batch of writes failed to commit; no more events are appended until the server restarts");
        trail.fail();
    }
    if commit.is_ok()
        && let Some(s) = staged
    {
        match trail.write(s) {
            Ok(synced) => indexer.send(synced),
            // Committed with its events: the answer stands, and the log gets them back from the
            // database when it is opened again (it takes nothing more until then).
            Err(e) => tracing::error!(
                error = %e,
                "writing a committed batch's audit events to the log failed; they are kept in the database \
                 and written back when the server starts again"
            ),
        }
    }
    Batch { finishes, jobs: commit.clone(), audits: audits_result.and(commit) }
}

fn append_alone(tx: &mut rusqlite::Transaction<'_>, audit: OwnedAudit) -> Result<Vec<OwnedAudit>> {
    let sp = tx.savepoint().map_err(backend)?;
    let handed = Tx::new(&sp);
    match audit.append(&handed) {
        Ok(()) => {
            let audits = handed.audits.into_inner();
            sp.commit().map_err(backend)?;
            Ok(audits)
        }
        Err(e) => {
            let _ = sp.finish();
            Err(e)
        }
    }
}

/// The events of `audits` (under the first one's key: there is one per server) chained after
/// the head and made into log records; `None` without events.
fn stage(trail: &Trail, audits: Vec<OwnedAudit>, commits: bool) -> Option<Staged> {
    let (key, events) = OwnedAudit::merge(audits)?.into_parts();
    (!events.is_empty()).then(|| trail.stage(&key, events, commits))
}

/// Chains the events of `audits` and makes them durable in the log.
fn log(trail: &mut Trail, indexer: &Indexer, audits: Vec<OwnedAudit>) -> Result<()> {
    let Some(staged) = stage(trail, audits, false) else { return Ok(()) };
    indexer.send(trail.append(staged)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use clawvault_store::Store as _;

    use super::Crowd;
    use crate::{OpenMode, SqliteStore};

    /// Readiness fails once the trail takes no more events (every read would fail on its
    /// event), instead of answering 200 for a server that can serve nothing.
    #[tokio::test]
    async fn a_trail_that_takes_no_more_events_is_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite"), OpenMode::ReadWrite).await.unwrap();
        store.ping().await.unwrap();
        store.writer.as_ref().unwrap().shared.trail().fail();
        let e = store.ping().await.unwrap_err().to_string();
        assert!(e.contains("audit trail takes no more events") && e.contains("restart"), "{e}");
    }

    #[test]
    fn a_wave_s_first_caller_is_not_taken_for_a_lone_one() {
        let crowd = Crowd::default();
        assert!(crowd.single(), "a fresh writer");
        (0..8).for_each(|_| crowd.record(1));
        assert!(crowd.single(), "calls one at a time");
        (0..8).for_each(|_| crowd.record(4));
        crowd.record(1);
        assert!(!crowd.single(), "one batch of one amid batches of four");
        (0..3).for_each(|_| crowd.record(1));
        assert!(!crowd.single(), "a few");
        (0..16).for_each(|_| crowd.record(1));
        assert!(crowd.single(), "the crowd has gone");
    }
}
