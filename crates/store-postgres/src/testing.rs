//! Throwaway databases for tests: each test gets its own database on the PostgreSQL named by
//! `CLAWVAULT_TEST_PG_URL` (by default the one on 127.0.0.1:5432; `scripts/test` starts a
//! private one when none answers there), dropped when the test ends.

// Test support: a failure to set up is a failed test, said plainly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crate::sql::{self, Connection, PgConnection};

/// The server tests use unless `CLAWVAULT_TEST_PG_URL` names another.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists until this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    /// Its connection URL.
    pub url: String,
    name: String,
    admin: String,
    keep: bool,
}

fn admin_url() -> String {
    std::env::var("CLAWVAULT_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

async fn admin_connection(admin: &str) -> PgConnection {
    PgConnection::connect(admin).await.unwrap_or_else(|e| {
        panic!(
            "no PostgreSQL for the tests at {admin} ({e}): run scripts/test (which starts a private one), \
             or set CLAWVAULT_TEST_PG_URL to a server where this user may create databases"
        )
    })
}

impl TestDatabase {
    /// Creates an empty database.
    ///
    /// # Panics
    /// When no PostgreSQL answers (the message says how to get one).
    pub async fn create() -> Self {
        let admin = admin_url();
        let name = format!("clawvault_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin_connection(&admin).await;
        sql::dynamic(format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("CREATE DATABASE");
        let _ = conn.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Self { url: format!("{base}/{name}"), name, admin, keep: false }
    }

    /// Runs `statements` (SQL text, no parameters) on the database, as something other than a
    /// clawvault server would: a test's hand in the tables.
    ///
    /// # Panics
    /// When a statement fails.
    pub async fn run(&self, statements: &str) {
        let mut conn = admin_connection(&self.url).await;
        sql::raw_sql(sql::AssertSqlSafe(statements.to_owned())).execute(&mut conn).await.expect("statements");
        let _ = conn.close().await;
    }

    /// The first column of the first row `query` returns, as a number.
    ///
    /// # Panics
    /// When the query fails or returns no number.
    pub async fn number(&self, query: &str) -> i64 {
        let mut conn = admin_connection(&self.url).await;
        let n: i64 = sql::query_scalar(sql::AssertSqlSafe(query.to_owned())).fetch_one(&mut conn).await.expect("query");
        let _ = conn.close().await;
        n
    }

    /// Keeps the database after this value is gone (servers in other processes use it;
    /// `scripts/test` drops every `clawvault_test_*` database at the end) and returns its URL.
    #[must_use]
    pub fn keep(mut self) -> String {
        self.keep = true;
        self.url.clone()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop may run inside a runtime, where blocking on another is not allowed: use a
        // thread of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin).await.ok()?;
                sql::dynamic(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("note: test database {} was not dropped", self.name);
        }
    }
}
