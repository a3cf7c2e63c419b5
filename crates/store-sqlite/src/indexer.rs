//! The audit index, filled behind the log on a thread and connection of its own: a read's
//! batch never waits for index pages, and a batch of writes waits only while an indexing
//! transaction holds SQLite's write lock ([`WriteLock`]: a mutex both threads take, so that the
//! writer is woken the moment the indexer commits, rather than retrying on SQLite's busy
//! handler, which sleeps for milliseconds). The writer leaves events in a buffer without waking
//! the indexer, which takes them every [`EVERY`] (or at once past [`BACKLOG`]). Its commits skip
//! the sync (`synchronous = NORMAL`):
//! the index can be rebuilt from the log (reopening reloads whatever the index lacks), and the
//! writer's next durable commit, or a checkpoint, syncs their WAL frames with it. After each
//! round the indexer also copies the WAL into the database file ([`backfill`]), so that the
//! writer's own checkpoints find little left to do.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use clawvault_core::audit::{ChainHead, ChainKey};
use clawvault_store::{Result, StoreError};
use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::audit_query::{self, INDEX_BATCH};
use crate::convert::micros;
use crate::trail::Unindexed;
use crate::{BUSY_WAIT, backend, configure};

/// How often the indexer takes what the writer left.
const EVERY: Duration = Duration::from_millis(50);
/// How long a rewind of the WAL waits for readers.
const REWIND_WAIT: Duration = Duration::from_millis(5);
/// Events left at which the writer wakes the indexer at once.
const BACKLOG: usize = 1024;

/// SQLite's write lock as both writing threads see it.
pub(crate) type WriteLock = Arc<Mutex<()>>;

enum Msg {
    /// More than [`BACKLOG`] events are waiting.
    Wake,
    /// The chain key, to MAC the index's head.
    Key(ChainKey),
    /// Index everything left so far, then answer.
    Flush(oneshot::Sender<Result<()>>),
}

/// Handle to the indexing thread.
#[derive(Clone)]
pub(crate) struct Indexer {
    tx: mpsc::Sender<Msg>,
    /// Events made durable in the log and not yet taken, in order.
    left: Arc<Mutex<Vec<Unindexed>>>,
}

impl std::fmt::Debug for Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Indexer")
    }
}

fn stopped() -> StoreError {
    StoreError::Backend("the audit indexer has stopped".into())
}

impl Indexer {
    /// Opens its connection to the database at `path` and starts with `pending` (the log's
    /// tail the index lacks).
    pub(crate) fn start(path: &Path, pending: Vec<Unindexed>, lock: WriteLock) -> Result<Self> {
        let conn = Connection::open(path).map_err(backend)?;
        let file = std::fs::File::open(path)
            .map_err(|e| StoreError::Backend(format!("cannot open the database file: {e}")))?;
        configure(&conn).map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(backend)?;
        // Its commits hold the lock the writer waits for; it checkpoints after, in `backfill`.
        conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(backend)?;
        let (tx, rx) = mpsc::channel();
        let left = Arc::new(Mutex::new(Vec::new()));
        let taken = Arc::clone(&left);
        std::thread::Builder::new()
            .name("clawvault-sqlite-indexer".into())
            .spawn(move || run(conn, &file, pending.into(), &taken, &lock, rx))
            .map_err(|e| StoreError::Backend(format!("cannot start the audit indexer: {e}")))?;
        Ok(Self { tx, left })
    }

    /// Leaves events just made durable (called before anyone is answered for them, so a later
    /// [`Indexer::flush`] covers them).
    pub(crate) fn send(&self, events: Vec<Unindexed>) {
        if events.is_empty() {
            return;
        }
        let mut left = self.left.lock().unwrap_or_else(PoisonError::into_inner);
        left.extend(events);
        if left.len() >= BACKLOG {
            let _ = self.tx.send(Msg::Wake);
        }
    }

    pub(crate) fn set_key(&self, key: ChainKey) {
        let _ = self.tx.send(Msg::Key(key));
    }

    /// Indexes everything handed over so far.
    pub(crate) async fn flush(&self) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Msg::Flush(done)).map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }

    /// [`Indexer::flush`] from a thread that is not async (the writer, before a checkpoint).
    pub(crate) fn flush_blocking(&self) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Msg::Flush(done)).map_err(|_| stopped())?;
        wait.blocking_recv().map_err(|_| stopped())?
    }
}

fn run(
    mut conn: Connection,
    file: &std::fs::File,
    mut pending: VecDeque<Unindexed>,
    left: &Mutex<Vec<Unindexed>>,
    lock: &Mutex<()>,
    rx: mpsc::Receiver<Msg>,
) {
    let mut key = None;
    loop {
        let flush = match rx.recv_timeout(EVERY) {
            Ok(Msg::Key(k)) => {
                key = Some(k);
                None
            }
            Ok(Msg::Flush(done)) => Some(done),
            Ok(Msg::Wake) | Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        pending.extend(std::mem::take(&mut *left.lock().unwrap_or_else(PoisonError::into_inner)));
        let indexed = index_all(&mut conn, &mut pending, key.as_ref(), lock);
        match flush {
            Some(done) => {
                let _ = done.send(indexed);
            }
            None => warn(indexed),
        }
        backfill(&conn, file, lock);
    }
}

/// WAL pages past which the indexer, once it has copied them, rewinds the WAL (1,000 is
/// SQLite's own checkpoint threshold).
const REWIND_PAGES: i64 = 1_000;

/// Copies what the WAL holds into the database file, without SQLite's write lock (or ours):
/// the writer goes on committing meanwhile. Then, once the WAL is long, rewinds it: under a
/// stream of writes the WAL is never all copied at the moment a writer begins (the only moment
/// SQLite rewinds it on its own), so it would only grow. Rewinding takes our lock, so that no
/// batch of writes is open, copies the few pages committed since and waits for readers still
/// reading the WAL (microseconds each; a few milliseconds at most, else it tries again next
/// round). The writer's own checkpoints (past `WRITER_CHECKPOINT_PAGES`) stay as the bound on
/// the WAL's length.
fn backfill(conn: &Connection, file: &std::fs::File, lock: &Mutex<()>) {
    let passive = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
    let long = match passive {
        Ok(pages) => pages >= REWIND_PAGES,
        Err(e) => {
            tracing::warn!(error = %e, "copying the WAL into the database file failed; the writer's checkpoints do it");
            return;
        }
    };
    if long {
        // The copy wrote pages the rewind would sync while the writer waits (14 ms at the
        // median under writes at c=16): sync them first, outside the lock (the rewind's share
        // fell to 3.6 ms). A failure only leaves that work to the rewind.
        if let Err(e) = file.sync_data() {
            tracing::debug!(error = %e, "syncing the database file before rewinding the WAL failed");
        }
        let _held = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let rewound = conn
            .busy_timeout(REWIND_WAIT)
            .and_then(|()| conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())))
            .and_then(|()| conn.busy_timeout(BUSY_WAIT));
        if let Err(e) = rewound {
            tracing::debug!(error = %e, "rewinding the WAL waits for the next round");
            let _ = conn.busy_timeout(BUSY_WAIT);
        }
    }
}

fn warn(r: Result<()>) {
    if let Err(e) = r {
        tracing::warn!(error = %e, "indexing audit events failed; they stay in the log and are indexed later");
    }
}

fn index_all(
    conn: &mut Connection,
    pending: &mut VecDeque<Unindexed>,
    key: Option<&ChainKey>,
    lock: &Mutex<()>,
) -> Result<()> {
    while !pending.is_empty() {
        // The lock is taken per transaction, so a batch of writes waits for one at most.
        let _held = lock.lock().unwrap_or_else(PoisonError::into_inner);
        index_batch(conn, pending, key)?;
    }
    while audit_query::merge_run(conn, audit_query::RUN, lock)? {}
    Ok(())
}

/// One transaction of at most [`INDEX_BATCH`] events: their rows and the MAC'd head of the
/// last whole batch among them (once the key is known). Their lookups wait for a whole run.
fn index_batch(conn: &mut Connection, pending: &mut VecDeque<Unindexed>, key: Option<&ChainKey>) -> Result<usize> {
    let n = pending.len().min(usize::try_from(INDEX_BATCH).unwrap_or(usize::MAX));
    if n == 0 {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let mut head = None;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO audit_events (seq, id, created_at, action, outcome, actor_type, actor_id, \
                 resource_type, resource_id, vault_id, ip_address, details, prev_hash, hash) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .map_err(backend)?;
        for u in pending.iter().take(n) {
            let (c, e) = (&u.event, &u.event.event);
            insert
                .execute(params![
                    c.seq,
                    e.id,
                    micros(e.created_at),
                    e.action,
                    e.outcome.as_str(),
                    e.actor_type,
                    e.actor_id,
                    e.resource_type,
                    e.resource_id,
                    e.vault_id,
                    e.ip_address,
                    e.details,
                    &c.prev_hash[..],
                    &c.hash[..],
                ])
                .map_err(backend)?;
            if u.end {
                head = key.map(|k| k.head(c.seq, c.hash));
            }
        }
    }
    if let Some(ChainHead { seq, hash, mac }) = head {
        tx.prepare_cached(
            "INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac",
        )
        .and_then(|mut s| s.execute(params![seq, &hash[..], &mac[..]]))
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)?;
    pending.drain(..n);
    Ok(n)
}
