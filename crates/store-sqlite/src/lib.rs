//! The embedded SQLite backend of clawvault's [`Store`](clawvault_store::Store).
//!
//! One database file in WAL mode with `synchronous = FULL`, so a commit is on disk before it is
//! acknowledged, and beside it the audit trail's append-only log (`<database>-audit/`, see
//! [`trail`]), of which the database's audit tables are an index. All writes and audit appends
//! go through one writer thread that group-commits whatever queued while the previous batch was
//! being made durable ([`writer`]). Point reads run inline on the
//! calling thread over a small pool of read-only connections (a cached statement on a warm page
//! cache takes microseconds, less than a thread handoff); scans run on the blocking pool.

mod agents;
mod audit;
mod audit_query;
mod auth_roles;
mod consumers;
mod convert;
mod indexer;
mod kv_settings;
mod log_record;
mod migrate;
mod pending;
mod policies;
mod proxy_routes;
mod reader;
mod secret_events;
mod secret_requests;
mod shares;
mod sql;
mod store;
mod trail;
mod writer;

use std::path::Path;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use clawvault_auditlog::Reader;
use clawvault_core::audit::{ChainHead, ChainKey};

use clawvault_store::{Result, StoreError};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::indexer::{Indexer, WriteLock};
use crate::reader::Readers;
use crate::trail::{Published, Trail};
use crate::writer::Writer;

pub use crate::trail::{Recovery, TornTail};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Option<Writer>,
    indexer: Option<Indexer>,
    readers: Readers,
    /// The audit log, read by `audit_after` (verification reads the log, not its index).
    log: Arc<Reader>,
    /// The newest durable chain head, MAC'd: kept by the writer, or (read-only) set from the
    /// log's end by [`SqliteStore::set_chain_key`].
    published: Published,
    recovery: Recovery,
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the file if needed and apply migrations (the server).
    ReadWrite,
    /// Open an existing database read-only (offline tools such as `audit verify`).
    ReadOnly,
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// The WAL's length, in pages, past which the writer checkpoints after its commits, on its own
/// thread (SQLite's default is 1,000). The indexer copies the WAL into the database file after each of its
/// rounds, off the writer's path; this is only the bound on the WAL's length (64 MiB), reached
/// when a stream of reads and writes never leaves SQLite the moment it needs to rewind the WAL.
/// At 1,000, once the WAL stayed that long, every batch of writes checkpointed: one more sync of
/// the database file per batch, a quarter of the writer thread's time under a stream of writes.
const WRITER_CHECKPOINT_PAGES: i64 = 16_384;

/// How long a connection waits for SQLite's locks (every connection's setting).
const BUSY_WAIT: Duration = Duration::from_secs(10);

/// Settings every connection gets.
///
/// Plans never depend on bound values (the query planner stability guarantee): otherwise SQLite
/// marks a statement whose plan could use a parameter's value (a `LIMIT ?`, a `COALESCE(?, …)`)
/// to be compiled again whenever its bindings are cleared, which rusqlite's statement cache does
/// on every return, so a cached statement was recompiled on every use (a read that missed the
/// cache of current versions spent most of its SQLite time compiling). Every query here is an
/// index lookup or a bounded scan whose plan the values cannot improve.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_WAIT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file cannot be opened or migrated.
    pub async fn open(path: &Path, mode: OpenMode) -> Result<Self> {
        let log_dir = trail::log_dir(path);
        let (writer, indexer, published, recovery) = match mode {
            OpenMode::ReadWrite => {
                let mut conn = Connection::open(path).map_err(backend)?;
                configure(&conn).map_err(backend)?;
                conn.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
                conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES).map_err(backend)?;
                migrate::run(&mut conn)?;
                let (trail, recovery, unindexed) = Trail::open(&conn, &log_dir)?;
                let lock = WriteLock::default();
                let indexer = Indexer::start(path, unindexed, Arc::clone(&lock))?;
                let (writer, published) = Writer::start(conn, trail, indexer.clone(), lock)?;
                (Some(writer), Some(indexer), published, recovery)
            }
            OpenMode::ReadOnly => {
                if !path.exists() {
                    return Err(StoreError::Backend(format!("no database at {}", path.display())));
                }
                (None, None, Published::default(), Recovery::default())
            }
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let readers = Readers::new(path, flags)?;
        let log = Arc::new(Reader::new(&log_dir));
        Ok(Self { writer, indexer, readers, log, published, recovery })
    }

    /// Gives the store the audit chain's key, so that it can MAC the head of its log (the log
    /// keeps no MACs): before this, and before the first append, the head is the index's, which
    /// may lag the log after a crash. Read-only, this reads the log to its end.
    ///
    /// # Errors
    /// The log cannot be read, or the writer has stopped.
    pub async fn set_chain_key(&self, key: &ChainKey) -> Result<()> {
        if let Some(w) = &self.writer {
            return w.set_chain_key(key.clone()).await;
        }
        let index = self.readers.read(audit::head)?;
        let (log, key) = (Arc::clone(&self.log), key.clone());
        let last = tokio::task::spawn_blocking(move || trail::last_after(&log, index.map_or(0, |h| h.seq - 1)))
            .await
            .map_err(|e| StoreError::Backend(format!("reading the audit log: {e}")))??;
        *self.published.lock().unwrap_or_else(PoisonError::into_inner) =
            trail::Newest { head: last.map(|e| (e.seq, e.hash)), key: Some(key) };
        Ok(())
    }

    /// What opening found in the audit trail and repaired (a torn tail, a batch of writes
    /// logged but never committed): the server records it as an event of its own.
    #[must_use]
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The newest chain head: the writer's (MAC'd in memory at each append) or the index's,
    /// whichever is further on. Read-only, or before the first append, it is the index's, and
    /// the log may go on past it (verification checks that the chain holds it).
    fn chain_head(&self) -> Result<Option<ChainHead>> {
        let index = self.readers.read(audit::head)?;
        let written = self.published.lock().unwrap_or_else(PoisonError::into_inner).mac();
        Ok(match (written, index) {
            (Some(w), Some(i)) => Some(if i.seq > w.seq { i } else { w }),
            (w, i) => w.or(i),
        })
    }

    fn writer(&self) -> Result<&Writer> {
        self.writer.as_ref().ok_or_else(|| StoreError::Backend("the database was opened read-only".into()))
    }

    /// Brings the audit index up to date now: syncs what batches of writes left unsynced in the
    /// log (the writer does so when idle) and indexes it (the indexer's thread otherwise catches
    /// up every 50 ms, and at once past 1,024 events; queries do this first).
    ///
    /// # Errors
    /// Storage failures, or a read-only store.
    pub async fn index_audit(&self) -> Result<()> {
        self.writer()?.sync().await;
        match &self.indexer {
            Some(i) => i.flush().await,
            None => Ok(()),
        }
    }

    /// Waits for queued writes and checkpoints the WAL (graceful shutdown).
    pub async fn close(&self) {
        if let Some(w) = &self.writer {
            w.checkpoint().await;
        }
        self.readers.clear();
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::{StatementStatus, params};

    use super::*;
    use crate::sql::all;

    /// A statement taken from the cache is not compiled again because it gets new values: the
    /// statement of every value read (`COALESCE(?3, …)`) and the event streams' page (`LIMIT ?`),
    /// run as the store runs them, through rusqlite's cache, which clears bindings on return.
    #[test]
    fn cached_statements_are_compiled_once_whatever_their_values() {
        let mut conn = Connection::open_in_memory().unwrap();
        configure(&conn).unwrap();
        migrate::run(&mut conn).unwrap();
        for round in 0..3_i64 {
            let version = (round > 0).then_some(round);
            all(&conn, store::VERSION, params![uuid::Uuid::new_v4(), format!("k{round}"), version], |_| Ok(()))
                .unwrap();
            all(&conn, secret_events::AFTER, params![round, 10 + round], |_| Ok(())).unwrap();
        }
        for sql in [store::VERSION, secret_events::AFTER] {
            let compiled_again = conn.prepare_cached(sql).unwrap().get_status(StatementStatus::RePrepare);
            assert_eq!(compiled_again, 0, "{sql}");
        }
    }
}
