//! The shared store conformance suite on SQLite, each check on a database of its own.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

use clawvault_store_sqlite::{OpenMode, SqliteStore};

async fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("clawvault.sqlite"), OpenMode::ReadWrite).await.unwrap();
    (store, dir)
}

clawvault_store::conformance_tests!(fresh);

#[tokio::test]
async fn read_only_mode_needs_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.sqlite");
    let err = SqliteStore::open(&path, OpenMode::ReadOnly).await.unwrap_err();
    assert!(err.to_string().contains("no database"), "{err}");
}
