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
mod kv_settings;
mod log_record;
mod migrate;
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
use clawvault_core::audit::ChainHead;

use clawvault_store::{Result, StoreError};
use rusqlite::{Connection, OpenFlags};

use crate::reader::Readers;
use crate::trail::{Published, Trail};
use crate::writer::Writer;

pub use crate::trail::{Recovery, TornTail};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Option<Writer>,
    readers: Readers,
    /// The audit log, read by `audit_after` (verification reads the log, not its index).
    log: Arc<Reader>,
    log_dir: std::path::PathBuf,
    /// The newest durable chain head, kept by the writer (none when read-only).
    published: Option<Published>,
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

/// Settings every connection gets.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
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
        let (writer, published, recovery) = match mode {
            OpenMode::ReadWrite => {
                let mut conn = Connection::open(path).map_err(backend)?;
                configure(&conn).map_err(backend)?;
                conn.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
                migrate::run(&mut conn)?;
                let (trail, recovery) = Trail::open(&conn, &log_dir)?;
                let (writer, published) = Writer::start(conn, trail)?;
                (Some(writer), Some(published), recovery)
            }
            OpenMode::ReadOnly => {
                if !path.exists() {
                    return Err(StoreError::Backend(format!("no database at {}", path.display())));
                }
                (None, None, Recovery::default())
            }
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let readers = Readers::new(path, flags)?;
        let log = Arc::new(Reader::new(&log_dir));
        Ok(Self { writer, readers, log, log_dir, published, recovery })
    }

    /// What opening found in the audit trail and repaired (a torn tail, a batch of writes
    /// logged but never committed): the server records it as an event of its own.
    #[must_use]
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The newest chain head: the writer's, or (read-only) the log's end; the index's when
    /// that is further on (the log lost events its index holds, which verification reports).
    fn chain_head(&self) -> Result<Option<ChainHead>> {
        let index = self.readers.read(audit::head)?;
        let log = match &self.published {
            Some(p) => p.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            None => trail::log_head(&self.log_dir, index.as_ref())?,
        };
        Ok(match (log, index) {
            (Some(l), Some(i)) => Some(if i.seq > l.seq { i } else { l }),
            (l, i) => l.or(i),
        })
    }

    fn writer(&self) -> Result<&Writer> {
        self.writer.as_ref().ok_or_else(|| StoreError::Backend("the database was opened read-only".into()))
    }

    /// Brings the audit lookup index up to date now (it otherwise catches up when the writer is
    /// idle; filtered queries are correct either way).
    ///
    /// # Errors
    /// Storage failures, or a read-only store.
    pub async fn index_audit(&self) -> Result<()> {
        self.writer()?.index_audit().await
    }

    /// Waits for queued writes and checkpoints the WAL (graceful shutdown).
    pub async fn close(&self) {
        if let Some(w) = &self.writer {
            w.checkpoint().await;
        }
        self.readers.clear();
    }
}
