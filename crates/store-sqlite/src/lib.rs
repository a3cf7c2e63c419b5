//! The embedded SQLite backend of clawvault's [`Store`](clawvault_store::Store).
//!
//! One database file in WAL mode with `synchronous = FULL`, so a commit is on disk before it is
//! acknowledged. Writes go through a pool of one connection (SQLite has one writer; queueing in
//! the pool avoids `SQLITE_BUSY` storms); reads use a separate pool of read-only connections
//! that WAL lets run beside the writer.

mod audit;
mod convert;
mod migrate;
mod store;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use clawvault_store::{Result, StoreError};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the file if needed and apply migrations (the server).
    ReadWrite,
    /// Open an existing database read-only (offline tools such as `audit verify`).
    ReadOnly,
}

fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file cannot be opened or migrated.
    pub async fn open(path: &Path, mode: OpenMode) -> Result<Self> {
        let readers = std::thread::available_parallelism().map_or(4, |n| n.get().clamp(2, 8)) as u32 * 2;
        let base = SqliteConnectOptions::from_str("sqlite://")
            .map_err(backend)?
            .filename(path)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .synchronous(SqliteSynchronous::Full);
        let reader_opts = base.clone().read_only(true);
        let writer = if mode == OpenMode::ReadWrite {
            let opts = base.create_if_missing(true).journal_mode(SqliteJournalMode::Wal);
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .connect_with(opts)
                .await
                .map_err(backend)?;
            migrate::run(&writer).await?;
            writer
        } else {
            if !path.exists() {
                return Err(StoreError::Backend(format!("no database at {}", path.display())));
            }
            SqlitePoolOptions::new().max_connections(1).connect_with(reader_opts.clone()).await.map_err(backend)?
        };
        let reader =
            SqlitePoolOptions::new().max_connections(readers).connect_with(reader_opts).await.map_err(backend)?;
        Ok(Self { writer, reader })
    }

    /// Checkpoints the WAL and closes all connections (graceful shutdown).
    pub async fn close(&self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.writer).await;
        self.reader.close().await;
        self.writer.close().await;
    }
}
