//! Small helpers over rusqlite: cached statements, our error type, conflicts.

use clawvault_store::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, Params, Row};

use crate::backend;
use crate::convert::decode;

pub(crate) fn unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Maps a unique-constraint violation to a conflict.
pub(crate) fn conflict_on_unique(what: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| if unique_violation(&e) { StoreError::Conflict(what) } else { backend(e) }
}

pub(crate) fn one<T>(
    conn: &Connection,
    sql: &str,
    p: impl Params,
    f: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    stmt.query_row(p, decode(f)).optional().map_err(backend)?.transpose()
}

pub(crate) fn all<T>(
    conn: &Connection,
    sql: &str,
    p: impl Params,
    f: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let rows = stmt.query_map(p, decode(f)).map_err(backend)?;
    rows.map(|r| r.map_err(backend).and_then(|x| x)).collect()
}

pub(crate) fn execute(conn: &Connection, sql: &str, p: impl Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(p)
}
