//! The PostgreSQL backend of clawvault's store, for several servers on one database.
//!
//! - Writes that must not collide are compare-and-set statements; PostgreSQL's row locks make
//!   the loser see the winner's row and report [`clawvault_store::StoreError::Conflict`].
//! - The audit chain is one gap-free order for all servers, built behind the appends: a batch's
//!   events are durable once left, sealed, in the chain's inbox, with no lock shared between
//!   servers, and whichever server takes the head row's lock chains them ([`chain`]). Each
//!   server group-commits its writes and read events ([`writer`]). The events' query index is
//!   filled behind the chain ([`audit_index`]).
//! - Changes that servers must follow (revocations, policies, vault and secret changes), as the
//!   writing server names them in the write's [`clawvault_store::AuditBatch`], are written to
//!   a change log in the transaction of the write and announced with `NOTIFY` ([`changes`]);
//!   the log, not the notification, is what followers trust.
//! - Migrations run under an advisory lock, so replicas may start together.

mod audit;
mod audit_index;
mod audited;
mod auth_roles;
mod chain;
mod changes;
mod consumers;
mod kv_settings;
mod migrate;
mod policies;
mod principals;
mod proxy_routes;
mod rows;
mod secret_events;
mod secret_requests;
mod secrets;
mod shares;
mod sql;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use clawvault_core::audit::ChainKey;
use clawvault_store::{AuditBatch, Result, StoreError};
use tokio::sync::Notify;

use crate::sql::{PgConnectOptions, PgPool, PgPoolOptions};

/// A store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    writer: writer::Writer,
    signal: Arc<Notify>,
    chain: chain::Chain,
}

/// Connections a server keeps unless configured otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// How to connect.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections kept by this server.
    pub max_connections: u32,
    /// How long to wait for a free connection (or for the database at start).
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self { max_connections: DEFAULT_MAX_CONNECTIONS, acquire_timeout: Duration::from_secs(10) }
    }
}

pub(crate) fn backend(e: sql::Error) -> StoreError {
    // 22021: a NUL character in text, which PostgreSQL cannot store.
    if e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "22021") {
        return StoreError::Unstorable("text must not contain NUL characters");
    }
    StoreError::Backend(describe(&e))
}

/// The database's own words, without the statement or its parameters.
fn describe(e: &sql::Error) -> String {
    match e {
        sql::Error::Database(d) => format!("{} ({})", d.message(), d.code().unwrap_or_default()),
        sql::Error::PoolTimedOut => {
            "no database connection became free in time: is PostgreSQL up and reachable?".into()
        }
        other => other.to_string(),
    }
}

pub(crate) fn unique_violation(e: &sql::Error) -> bool {
    e.as_database_error().is_some_and(sql::DatabaseError::is_unique_violation)
}

/// Maps a unique-constraint violation to a conflict.
pub(crate) fn conflict_on_unique(what: &'static str) -> impl Fn(sql::Error) -> StoreError {
    move |e| if unique_violation(&e) { StoreError::Conflict(what) } else { backend(e) }
}

impl PgStore {
    /// Connects, applies migrations (one server at a time) and starts following the change
    /// log's notifications.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database is unreachable or a migration fails.
    pub async fn connect(url: &str, options: &PgOptions) -> Result<Self> {
        let connect: PgConnectOptions = url.parse().map_err(|e: sql::Error| {
            StoreError::Backend(format!("the database URL is not valid ({e}): use postgres://user@host:5432/dbname"))
        })?;
        // One connection first: a pool would only report that none became free in time,
        // while this says why (refused, unknown host, authentication failed).
        let first = tokio::time::timeout(
            options.acquire_timeout,
            <sql::PgConnection as sql::Connection>::connect_with(&connect),
        )
        .await
        .map_err(|_| StoreError::Backend("cannot connect to PostgreSQL: no answer in time".into()))?
        .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {}", describe(&e))))?;
        let _ = sql::Connection::close(first).await;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {}", describe(&e))))?;
        migrate::run(&pool).await?;
        let signal = Arc::new(Notify::new());
        changes::listen(pool.clone(), Arc::clone(&signal)).await?;
        let writer = writer::Writer::start(pool.clone());
        let chain = chain::Chain::default();
        chain.spawn(pool.clone());
        audit_index::spawn(pool.clone());
        Ok(Self { pool, writer, signal, chain })
    }

    /// Gives the store the audit chain's key, so that it chains the events every server left
    /// (including those a stopped server left unchained) from now on, not only once it has
    /// appended events of its own (whose batches bring the key too).
    pub fn set_chain_key(&self, key: &ChainKey) {
        self.chain.know(key);
    }

    /// Chains every event left so far and brings the audit lookup index up to date now (both
    /// otherwise catch up within milliseconds; queries chain first, and filtered queries are
    /// correct either way).
    ///
    /// # Errors
    /// Database failures.
    pub async fn index_audit(&self) -> Result<()> {
        self.chain.all(&self.pool).await?;
        audit_index::index_all(&self.pool).await
    }

    /// Chains every event left so far (see [`chain`]): what queries of the chain do first.
    pub(crate) async fn chain_all(&self) -> Result<()> {
        self.chain.all(&self.pool).await
    }

    /// `batch`, owned for the writer; its key is the chain's (see [`PgStore::set_chain_key`]).
    pub(crate) fn owned(&self, batch: AuditBatch<'_>) -> audit::OwnedAudit {
        let owned = audit::OwnedAudit::from(batch);
        self.chain.know(owned.key());
        owned
    }

    /// Closes the connections (every request has its audit event committed before it is
    /// answered, so nothing is queued once requests have drained).
    pub async fn close(&self) {
        self.writer.stop();
        self.pool.close().await;
    }

    /// Runs `work` in this server's next group commit (see [`writer`]).
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut sql::PgConnection) -> writer::BoxFuture<'c, Result<T>> + Send + 'static,
    {
        self.writer.write(work).await
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}
