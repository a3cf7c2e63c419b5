//! The shared store conformance suite on PostgreSQL, each check on a database of its own.

use clawvault_store_postgres::testing::TestDatabase;
use clawvault_store_postgres::{PgOptions, PgStore};

async fn connect(db: &TestDatabase) -> PgStore {
    let options = PgOptions { max_connections: 8, ..PgOptions::default() };
    PgStore::connect(&db.url, &options).await.map_err(|e| e.to_string()).expect("connect")
}

async fn fresh() -> (PgStore, TestDatabase) {
    let db = TestDatabase::create().await;
    (connect(&db).await, db)
}

/// Two servers' handles on one database.
async fn fresh_pair() -> (PgStore, PgStore, TestDatabase) {
    let db = TestDatabase::create().await;
    (connect(&db).await, connect(&db).await, db)
}

clawvault_store::conformance_tests!(fresh);
clawvault_store::shared_database_tests!(fresh_pair);

/// Guards the store's Debug output (the URL it was opened with must never be kept in it).
#[tokio::test]
async fn debug_output_holds_no_password() {
    let db = TestDatabase::create().await;
    // The test server trusts local connections, so any password is accepted: a canary here.
    let url = db.url.replacen("://postgres@", "://postgres:canary-pw-1234@", 1);
    assert_ne!(url, db.url, "the test URL names the user postgres");
    let store = PgStore::connect(&url, &PgOptions::default()).await.map_err(|e| e.to_string()).expect("connect");
    let shown = format!("{store:?}");
    assert!(!shown.contains("canary-pw-1234"), "{shown}");
    store.close().await;
}

/// Filtered audit queries agree whether events are in the lookup index, in the tail after its
/// mark, or both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_filters_agree_across_index_and_tail() {
    let (s, _db) = fresh().await;
    clawvault_store::conformance::audit_filters_agree_across_index_and_tail(&s, async |s: &PgStore| {
        s.index_audit().await.expect("index");
    })
    .await;
    s.close().await;
}
