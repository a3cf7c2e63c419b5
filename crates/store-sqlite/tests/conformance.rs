//! The shared store conformance suite on SQLite.

use clawvault_store_sqlite::{OpenMode, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicU32::new(0);
    clawvault_store::conformance::run_all(|| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.path().join(format!("db-{n}.sqlite"));
        async move { SqliteStore::open(&path, OpenMode::ReadWrite).await.unwrap() }
    })
    .await;
}

#[tokio::test]
async fn read_only_mode_needs_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.sqlite");
    let err = SqliteStore::open(&path, OpenMode::ReadOnly).await.unwrap_err();
    assert!(err.to_string().contains("no database"), "{err}");
}
