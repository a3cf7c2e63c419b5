//! The shared store conformance suite on PostgreSQL, each check on a database of its own.

use std::sync::Mutex;

use clawvault_store::conformance;
use clawvault_store_postgres::testing::TestDatabase;
use clawvault_store_postgres::{PgOptions, PgStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite() {
    // The databases live until the suite ends.
    let databases = Mutex::new(Vec::new());
    conformance::run_all(|| async {
        let db = TestDatabase::create().await;
        let store = PgStore::connect(&db.url, &PgOptions { max_connections: 8, ..PgOptions::default() }).await;
        databases.lock().map(|mut d| d.push(db)).ok();
        store.map_err(|e| e.to_string()).expect("connect")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database() {
    let db = TestDatabase::create().await;
    let options = PgOptions { max_connections: 8, ..PgOptions::default() };
    let a = PgStore::connect(&db.url, &options).await.map_err(|e| e.to_string()).expect("connect a");
    let b = PgStore::connect(&db.url, &options).await.map_err(|e| e.to_string()).expect("connect b");
    conformance::shared_database(std::sync::Arc::new(a), std::sync::Arc::new(b)).await;
}

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
