//! Read-only connections. A point read runs on the caller's thread: it holds a connection for
//! the microseconds a cached statement takes, so at most one connection per runtime thread is
//! ever in use and the pool stays that small. Scans go to tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clawvault_store::{Result, StoreError};
use rusqlite::{Connection, OpenFlags};

use crate::{backend, configure};

/// Idle connections kept for reuse.
const KEEP_IDLE: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct Readers {
    path: Arc<PathBuf>,
    flags: OpenFlags,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl Readers {
    pub(crate) fn new(path: &Path, flags: OpenFlags) -> Result<Self> {
        let r = Self { path: Arc::new(path.to_path_buf()), flags, idle: Arc::default() };
        // Fail at open time, not on the first request, when the file cannot be read.
        let conn = r.connect()?;
        r.put_back(conn);
        Ok(r)
    }

    fn connect(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(self.path.as_ref(), self.flags).map_err(backend)?;
        configure(&conn).map_err(backend)?;
        Ok(conn)
    }

    fn take(&self) -> Result<Connection> {
        let idle = self.idle.lock().map_err(|_| StoreError::Backend("reader pool poisoned".into()))?.pop();
        match idle {
            Some(c) => Ok(c),
            None => self.connect(),
        }
    }

    fn put_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < KEEP_IDLE
        {
            idle.push(conn);
        }
    }

    /// Runs a short read on this thread.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.take()?;
        let out = f(&conn);
        self.put_back(conn);
        out
    }

    /// Runs a read that may take long (scans, pages of the audit trail) on the blocking pool.
    pub(crate) async fn scan<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read(f))
            .await
            .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}
