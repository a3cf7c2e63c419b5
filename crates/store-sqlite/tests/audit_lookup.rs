//! Filtered audit queries give the same answers whether the events are in the deferred lookup
//! index, in the unindexed tail, or split between the two.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

use clawvault_store_sqlite::{OpenMode, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_agree_across_index_and_tail() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("db.sqlite"), OpenMode::ReadWrite).await.unwrap();
    clawvault_store::conformance::audit_filters_agree_across_index_and_tail(&s, async |s: &SqliteStore| {
        s.index_audit().await.unwrap();
    })
    .await;
}
