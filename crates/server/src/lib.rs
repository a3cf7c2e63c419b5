//! The clawvault server: an axum application over a [`Store`], with envelope encryption, an
//! audited request pipeline and the native (1Claw-shaped) API.
//!
//! - [`Server::start`] opens (or initialises) a data directory and binds the listener;
//!   [`Server::serve`] runs until a shutdown signal, then drains requests and flushes the
//!   audit pipeline.
//! - [`app`] builds the router from an [`AppState`]; tests use it to drive the exact routes
//!   production serves.
//! - [`verify_offline`] checks the audit chain of a data directory without a running server.

mod app;
pub mod auth;
mod background;
mod budgets;
mod caches;
pub mod changes;
pub mod config;
mod connect;
mod data_dir;
pub mod error;
mod events;
mod feed;
pub mod follow;
mod forwarded;
mod idle;
mod json;
mod jwks;
mod limits;
mod mcp;
mod minted;
pub mod native;
mod op;
mod outbound;
mod pages;
mod passphrases;
mod proxy;
pub mod ratelimit;
mod request_links;
mod serve;
pub mod service;
mod share_ids;
pub(crate) mod signing;
mod state;
mod tls;
mod unauthenticated;
mod unread_body;
mod vault_api;
mod verify;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use clawvault_core::apikey::ApiKey;
use clawvault_core::audit::{Anchor, ChainKey, Report};
use clawvault_core::crypto::{DataKey, RootKey};
use clawvault_core::keyring::{MasterSecret, Purpose};
use clawvault_core::time_util::now;
use clawvault_store::{ServerKeyRecord, Store};
use clawvault_store_postgres::{PgOptions, PgStore};
use clawvault_store_sqlite::{OpenMode, SqliteStore};
use tokio::net::TcpListener;

pub use app::{app, connect_app, openapi};
pub use config::{Config, ConfigError, Overrides, Storage};
pub use data_dir::{ADDRESS_FILE, ADMIN_KEY_FILE, DataDir};
pub use error::ServerError;
pub use state::AppState;

use crate::auth::TokenService;
use crate::idle::IdleListener;
use crate::tls::TlsListener;

const MASTER_KEY: &str = "master";

/// Loads the master secret, generating and storing it on first start.
async fn master_secret(store: &dyn Store, root: &dyn RootKey, create: bool) -> Result<MasterSecret, ServerError> {
    let mismatch = |e: clawvault_core::CryptoError| {
        ServerError::RootKey(format!(
            "the root key does not open this database's keys ({e}); is this the right root.key for this data directory?"
        ))
    };
    if let Some(rec) = store.server_key(MASTER_KEY).await? {
        return MasterSecret::unwrap(root, &rec.wrapped).map_err(mismatch);
    }
    if !create {
        return Err(ServerError::DataDir("this data directory was never initialised by a server".into()));
    }
    let (_, wrapped) = MasterSecret::generate(root).map_err(|e| ServerError::RootKey(e.to_string()))?;
    let stored = store
        .insert_server_key(ServerKeyRecord {
            name: MASTER_KEY.into(),
            wrapped,
            root_key_id: root.key_id().into(),
            created_at: now(),
        })
        .await?;
    // Another starting replica may have won the insert: always use what is stored.
    MasterSecret::unwrap(root, &stored.wrapped).map_err(mismatch)
}

/// Refuses a database whose audit trail has events but no chain head: the newest events may
/// have been removed together with it, and appending after that would bury the gap.
async fn headless_chain(store: &dyn Store) -> Result<(), ServerError> {
    // Events first, then the head: they are committed together and the head is never removed
    // by clawvault, so events seen here mean the head is visible to the next read, even while
    // another replica is writing its first events. (The other order could read "no head"
    // just before that replica commits, and then its events.)
    let has_events = !store.audit_after(0, 1).await?.is_empty();
    if has_events && store.audit_head().await?.is_none() {
        return Err(ServerError::DataDir(
            "the audit trail has events but no chain head: its newest events may have been removed with it. \
             Check with `clawvault audit verify` (with --anchor if you kept one) and restore the database from a backup"
                .into(),
        ));
    }
    Ok(())
}

enum Bound {
    Plain(TcpListener),
    Tls(TlsListener),
}

impl Bound {
    fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }
}

/// Binds `addr` (`flag` names the setting in an error), with TLS when configured.
async fn bind(
    addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    flag: &str,
) -> Result<(Bound, SocketAddr), ServerError> {
    let tcp = TcpListener::bind(addr).await.map_err(|e| ServerError::Bind {
        addr,
        reason: match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                format!("the address is in use: is another clawvault running? Choose another with {flag}")
            }
            std::io::ErrorKind::PermissionDenied => {
                format!("permission denied: ports below 1024 need privileges; choose another with {flag}")
            }
            _ => e.to_string(),
        },
    })?;
    let local = tcp.local_addr().map_err(|e| ServerError::Serve(e.to_string()))?;
    let bound = match tls {
        Some(cfg) => Bound::Tls(TlsListener::new(tcp, cfg).map_err(|e| ServerError::Serve(e.to_string()))?),
        None => Bound::Plain(tcp),
    };
    Ok((bound, local))
}

/// The URL a client on this machine reaches `addr` at (a wildcard address becomes loopback).
fn url_of(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))
}

/// Serves `router` on `listener` (idle connections closed) until `shutdown` resolves.
async fn serve_on(
    listener: Bound,
    router: axum::Router,
    idle: std::time::Duration,
    limits: serve::ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match listener {
        Bound::Plain(tcp) => serve::serve(IdleListener::new(tcp, idle), router, limits, shutdown).await,
        Bound::Tls(tls) => serve::serve(IdleListener::new(tls, idle), router, limits, shutdown).await,
    }
}

/// The opened database, kept to close it at the end.
enum Backend {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PgStore>),
}

impl Backend {
    async fn open(config: &Config, data_dir: &DataDir) -> Result<Self, ServerError> {
        Ok(match &config.storage {
            Storage::Sqlite => {
                data_dir.secure_database()?;
                Self::Sqlite(Arc::new(SqliteStore::open(&data_dir.database(), OpenMode::ReadWrite).await?))
            }
            Storage::Postgres { url, max_connections } => {
                let options = PgOptions { max_connections: *max_connections, ..PgOptions::default() };
                Self::Postgres(Arc::new(PgStore::connect(url, &options).await?))
            }
        })
    }

    fn store(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(s) => s.clone(),
            Self::Postgres(s) => s.clone(),
        }
    }

    async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(s) => s.close().await,
        }
    }
}

/// A started server: data directory open, listener bound, not yet serving.
pub struct Server {
    state: AppState,
    store: Backend,
    listener: Bound,
    local_addr: SocketAddr,
    /// The 1Password Connect-compatible API's listener, when configured.
    connect: Option<(Bound, SocketAddr)>,
    new_admin_key: Option<ApiKey>,
    data_dir: DataDir,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl Server {
    /// Opens or initialises the data directory, loads keys, bootstraps the first admin on a
    /// new directory, and binds the listener.
    ///
    /// # Errors
    /// A [`ServerError`] that says what to fix.
    pub async fn start(config: Config) -> Result<Self, ServerError> {
        let data_dir = DataDir::open_or_create(&config.data_dir)?;
        let root: Arc<dyn RootKey> = Arc::new(match &config.root_key_file {
            Some(path) => data_dir::load_root_key(path)?,
            None => data_dir.root_key(true)?,
        });
        let backend = Backend::open(&config, &data_dir).await?;
        let store = backend.store();
        // Before anything else is loaded: a change another server makes meanwhile is then
        // either in what is loaded or after this position.
        let follower = follow::Follower::start_at(store.as_ref()).await?;
        let master = master_secret(store.as_ref(), root.as_ref(), true).await?;
        let chain_key = ChainKey::new(master.derive(Purpose::AuditChain));
        match &backend {
            Backend::Sqlite(s) => s.set_chain_key(&chain_key).await?,
            Backend::Postgres(p) => p.set_chain_key(&chain_key),
        }
        headless_chain(store.as_ref()).await?;
        let api_key_hash = master.derive(Purpose::ApiKeyHash);
        let enrollment_seal = DataKey::from_slice(master.derive(Purpose::EnrollmentKeySeal).expose())
            .map_err(|e| ServerError::RootKey(e.to_string()))?;
        let keys = signing::load(store.as_ref(), root.as_ref()).await?;
        let revoked = store.revoked_tokens(now()).await?;
        let tokens = TokenService::new(keys, config.token_ttl_seconds, revoked)?;

        let tls = config.tls.as_ref().map(tls::server_config).transpose()?;
        let tls_on = tls.is_some();
        let (listener, local_addr) = bind(config.listen, tls.clone(), "--listen").await?;
        let connect = match config.connect_listen {
            Some(addr) => Some(bind(addr, tls, "--connect-listen").await?),
            None => None,
        };

        let share_id_seal = DataKey::from_slice(master.derive(Purpose::ShareIdSeal).expose())
            .map_err(|e| ServerError::RootKey(e.to_string()))?;
        let share_ids = share_ids::ShareIds::new(master.derive(Purpose::ShareIdHash), share_id_seal);
        // Share links name the server as configured, or as it listens; never by a request's
        // Host header.
        let mut config = config;
        if config.public_url.is_none() {
            let scheme = if tls_on { "https" } else { "http" };
            config.public_url = Some(format!("{scheme}://{local_addr}"));
        }
        let request_links = request_links::RequestLinks::new(master.derive(Purpose::SecretRequestLink));
        let keys = state::DerivedKeys { chain_key, api_key_hash, enrollment_seal, share_ids, request_links };
        let outbound =
            outbound::Clients::new(config.proxy_ca_file.as_deref()).map_err(|e| ServerError::Tls(e.to_string()))?;
        let state = AppState::new(store, root, keys, tokens, config, follower, outbound);
        // The first append: it also zeroes a torn tail, so what was cut is recorded with the cut.
        if let Backend::Sqlite(s) = &backend {
            service::audit::record_recovery(&state, s.recovery())
                .await
                .map_err(|e| ServerError::DataDir(format!("recording the audit log's recovery: {e}")))?;
        }
        changes::reload_routes(&state)
            .await
            .map_err(|e| ServerError::Serve(format!("loading the proxy's routes: {e}")))?;
        changes::spawn(&state);
        service::proxy::spawn_usage_writer(&state);
        events::spawn(&state).await?;
        service::audit::spawn_summaries(&state);
        let new_admin_key = service::keys::bootstrap_admin(&state)
            .await
            .map_err(|e| ServerError::DataDir(format!("creating the first admin: {e}")))?;
        service::shares::rekey_unhashed(&state)
            .await
            .map_err(|e| ServerError::DataDir(format!("hashing the ids of older shares: {e}")))?;
        if let Some(key) = &new_admin_key {
            data_dir::write_private(&data_dir.admin_key_file(), format!("{}\n", key.expose()).as_bytes())?;
        }
        let server = Self { state, store: backend, listener, local_addr, connect, new_admin_key, data_dir };
        // The URL, then this process's id: a CLI trusts the file only while that process lives
        // (a killed server cannot remove it).
        let address = format!("{}\n{}\n", server.local_url(), std::process::id());
        data_dir::replace_private(&server.data_dir.address_file(), address.as_bytes())?;
        Ok(server)
    }

    /// The bound address (useful with port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL a client on this machine reaches the server at (a wildcard listen address
    /// becomes loopback).
    #[must_use]
    pub fn local_url(&self) -> String {
        url_of(self.local_addr, self.is_tls())
    }

    /// The URL of the 1Password Connect-compatible API on this machine, when it is served.
    #[must_use]
    pub fn connect_url(&self) -> Option<String> {
        self.connect.as_ref().map(|(bound, addr)| url_of(*addr, bound.is_tls()))
    }

    /// Whether clients connect with TLS.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        self.listener.is_tls()
    }

    /// The first admin's API key, when this start created it (show it once).
    #[must_use]
    pub fn new_admin_key(&self) -> Option<&ApiKey> {
        self.new_admin_key.as_ref()
    }

    /// The data directory.
    #[must_use]
    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// The state the router and the service layer run on: for embedding the router
    /// ([`app`]) elsewhere, and for tests that call it in-process.
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests
    /// finish (each answers only once its audit event is durable) and checkpoints the database.
    ///
    /// # Errors
    /// [`ServerError::Serve`].
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let Self { state, store, listener, connect, data_dir, .. } = self;
        let router = app(state.clone());
        let idle = std::time::Duration::from_secs(state.config.idle_timeout_seconds);
        let limits = serve::ConnectionLimits {
            total: state.config.max_connections,
            per_address: state.config.max_connections_per_address,
            header_timeout: std::time::Duration::from_secs(state.config.header_timeout_seconds),
            body_timeout: std::time::Duration::from_secs(state.config.body_timeout_seconds),
        };
        // One signal stops every listener, and ends the open event streams (which would
        // otherwise keep their connections, and the graceful shutdown, waiting for ever).
        let stopping = state.stopping.clone();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stopping.send(true);
            let _ = stop.send(true);
        });
        let until = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let served = match connect {
            None => serve_on(listener, router, idle, limits, until(stopped)).await,
            Some((connect, _)) => {
                let connect_router = app::connect_app(state.clone());
                let (main, other) = tokio::join!(
                    serve_on(listener, router, idle, limits, until(stopped.clone())),
                    serve_on(connect, connect_router, idle, limits, until(stopped)),
                );
                main.and(other)
            }
        };
        // No longer listening: a local CLI must not send the admin key to whatever takes the
        // port next.
        let _ = std::fs::remove_file(data_dir.address_file());
        // Audit events of proxied calls that answered as the listeners closed.
        state.background.drained(std::time::Duration::from_secs(30)).await;
        // Failures counted in windows still open are written before the database closes.
        service::audit::write_summaries(&state, true).await;
        if let Err(e) = state.budgets.flush(state.store.as_ref()).await {
            tracing::warn!(error = %e, "the last proxy usage could not be written");
        }
        drop(state);
        store.close().await;
        tracing::info!("stopped: in-flight requests finished, database checkpointed");
        served.map_err(|e| ServerError::Serve(e.to_string()))
    }
}

/// Verifies the audit chain of a data directory without a server (read-only); with `anchor`
/// (`cva1:…`), the chain must still hold the anchored event.
///
/// # Errors
/// When the directory, root key or database cannot be opened, or the anchor is not this
/// chain's.
pub async fn verify_offline(
    data_dir: &Path,
    limit: Option<u64>,
    anchor: Option<&str>,
) -> Result<(Report, bool), ServerError> {
    let (store, key) = open_chain(data_dir).await?;
    let anchor = match anchor {
        Some(a) => Some(service::audit::parse_anchor(&key, a).map_err(|e| ServerError::Anchor(e.to_string()))?),
        None => None,
    };
    let result = verify::verify_chain(&store, &key, limit, anchor).await?;
    store.close().await;
    Ok(result)
}

/// The audit chain head of a data directory as an anchor (`None` before the first event).
///
/// # Errors
/// When the directory, root key or database cannot be opened.
pub async fn anchor_offline(data_dir: &Path) -> Result<Option<Anchor>, ServerError> {
    let (store, _) = open_chain(data_dir).await?;
    let head = store.audit_head().await?;
    store.close().await;
    Ok(head.as_ref().map(Anchor::of))
}

async fn open_chain(data_dir: &Path) -> Result<(SqliteStore, ChainKey), ServerError> {
    let dir = DataDir::open_existing(data_dir)?;
    let root = dir.root_key(false)?;
    let store = SqliteStore::open(&dir.database(), OpenMode::ReadOnly).await?;
    let master = master_secret(&store, &root, false).await?;
    let key = ChainKey::new(master.derive(Purpose::AuditChain));
    store.set_chain_key(&key).await?;
    Ok((store, key))
}
