//! The embedded SQLite backend of clawvault's [`Store`](clawvault_store::Store).
//!
//! One database file in WAL mode with `synchronous = FULL`, so a commit is on disk before it is
//! acknowledged. All writes go through one writer thread that group-commits whatever queued
//! while the previous commit was being made durable ([`writer`]). Point reads run inline on the
//! calling thread over a small pool of read-only connections (a cached statement on a warm page
//! cache takes microseconds, less than a thread handoff); scans run on the blocking pool.

mod agents;
mod audit;
mod audit_query;
mod auth_roles;
mod consumers;
mod convert;
mod kv_settings;
mod migrate;
mod policies;
mod proxy_routes;
mod reader;
mod secret_events;
mod secret_requests;
mod shares;
mod sql;
mod store;
mod writer;

use std::path::Path;
use std::time::Duration;

use clawvault_store::{Result, StoreError};
use rusqlite::{Connection, OpenFlags};

use crate::reader::Readers;
use crate::writer::Writer;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Option<Writer>,
    readers: Readers,
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
        let writer = match mode {
            OpenMode::ReadWrite => {
                let mut conn = Connection::open(path).map_err(backend)?;
                configure(&conn).map_err(backend)?;
                conn.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
                migrate::run(&mut conn)?;
                Some(Writer::start(conn)?)
            }
            OpenMode::ReadOnly => {
                if !path.exists() {
                    return Err(StoreError::Backend(format!("no database at {}", path.display())));
                }
                None
            }
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let readers = Readers::new(path, flags)?;
        Ok(Self { writer, readers })
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
