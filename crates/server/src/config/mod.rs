//! Server configuration: one typed struct, read from an optional TOML file, overridden by
//! `CLAWVAULT_*` environment variables and command-line flags (the CLI maps both onto
//! [`Overrides`]), validated once with an error that lists every problem.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

mod file;

/// Largest request body accepted (as 1Claw: 5 MB).
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8420";

/// The data directory when none is configured: `$XDG_DATA_HOME/clawvault`, else
/// `~/.local/share/clawvault` (`./clawvault-data` without a home), the same from any working
/// directory, so that the CLI on this machine finds the server's address and first admin key.
#[must_use]
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("clawvault");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/clawvault"),
        None => PathBuf::from("clawvault-data"),
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Storage {
    /// One SQLite file in the data directory (the default; one server).
    Sqlite,
    /// A PostgreSQL database that several servers share.
    Postgres {
        /// Connection URL (may hold a password: never printed).
        url: String,
        /// Connections this server keeps.
        max_connections: u32,
    },
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite => f.write_str("Sqlite"),
            Self::Postgres { max_connections, .. } => f
                .debug_struct("Postgres")
                .field("url", &"[REDACTED]")
                .field("max_connections", max_connections)
                .finish(),
        }
    }
}

/// TLS certificate chain and private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the database, root key file and first admin key live.
    pub data_dir: PathBuf,
    /// The database.
    pub storage: Storage,
    /// The root key file, when not `root.key` in the data directory (never created).
    pub root_key_file: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    pub listen: SocketAddr,
    /// TLS, when both files are given.
    pub tls: Option<TlsFiles>,
    /// `tracing` filter (`info`, `clawvault=debug`, ...).
    pub log: String,
    /// Log line format.
    pub log_format: LogFormat,
    /// Lifetime of tokens exchanged for API keys, in seconds.
    pub token_ttl_seconds: u64,
    /// Failed unauthenticated requests (and share openings) one client address may make at
    /// once...
    pub auth_rate_burst: u32,
    /// ...and per second after that; beyond, 429 for seconds.
    pub auth_rate_per_second: f64,
    /// Wrong passphrases for one share (or failed exchanges with one key prefix) within 10
    /// minutes that lock that share (prefix) for 15 minutes.
    pub lockout_failures: u32,
    /// Seconds a connection may carry no byte either way before it is closed.
    pub idle_timeout_seconds: u64,
    /// Longest lifetime a share may be given, in seconds (default 30 days).
    pub share_max_lifetime_seconds: u64,
    /// Seconds a connection's request headers may take to arrive, however they trickle.
    pub header_timeout_seconds: u64,
    /// Seconds a request body may take to arrive.
    pub body_timeout_seconds: u64,
    /// Connections open at once, in all (by default kept below the open-file limit).
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_address: usize,
    /// The address clients reach this server at (share links are built from it).
    pub public_url: Option<String>,
    /// Plain HTTP on an address other machines can reach (TLS ends at a proxy in front).
    pub insecure_http: bool,
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers name the real client.
    pub trusted_proxies: Vec<clawvault_core::policy::Cidr>,
    /// The one header those proxies write (the other is the client's own, and ignored).
    pub forwarded_header: crate::forwarded::ForwardedHeader,
    /// MCP tool calls one principal may make at once...
    pub mcp_tool_call_burst: u32,
    /// ...and per second after that.
    pub mcp_tool_calls_per_second: f64,
    /// `Host` values `/mcp` answers besides loopback names and `public_url`'s host (DNS
    /// rebinding protection: a page on another name never reaches it through a browser).
    pub mcp_allowed_hosts: Vec<String>,
    /// Browser origins `/mcp` accepts besides `public_url`'s (a request with another
    /// `Origin` is refused; one without is not from a browser page).
    pub mcp_allowed_origins: Vec<String>,
    /// Where the keys that sign Kubernetes service-account tokens are: a JWKS file, a JWKS
    /// URL, or an OIDC issuer's `/.well-known/openid-configuration` URL (`auth/kubernetes/login`
    /// is refused without it).
    pub kubernetes_jwks: Option<String>,
    /// The `iss` Kubernetes service-account tokens must carry (unchecked when absent).
    pub kubernetes_issuer: Option<String>,
    /// Where the keys that sign the JWTs of `auth/jwt/login` are (as `kubernetes_jwks`).
    pub jwt_jwks: Option<String>,
    /// The `iss` those JWTs must carry (unchecked when absent).
    pub jwt_issuer: Option<String>,
    /// Where the 1Password Connect-compatible API listens (off when absent): a listener of
    /// its own, because Connect's paths (`/v1/vaults`, `/health`) overlap the native API's.
    pub connect_listen: Option<SocketAddr>,
    /// How long secret events are kept for streams that resume (`Last-Event-ID`), in seconds.
    pub events_retention_seconds: u64,
    /// Seconds between keep-alive comments on an idle event stream.
    pub events_heartbeat_seconds: u64,
    /// Event streams one identity may hold open at once on this server.
    pub events_max_streams_per_identity: usize,
    /// PEM certificates trusted for proxied and `http_request` upstreams besides the
    /// system's roots (a private CA in front of an internal model gateway).
    pub proxy_ca_file: Option<PathBuf>,
    /// GitHub's API, where installation tokens of `github_app` secrets are minted (GitHub
    /// Enterprise Server: `https://HOST/api/v3`).
    pub github_api_base: String,
}

/// GitHub's public API.
pub const DEFAULT_GITHUB_API_BASE: &str = "https://api.github.com";

/// Default connections open at once, before the open-file limit is taken into account.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Descriptors kept back from connections: the database, log, listener, TLS files.
const RESERVED_DESCRIPTORS: usize = 64;

/// The soft limit on open files of this process, where the system tells it.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Default window of secret events a stream can resume within: a day.
pub const DEFAULT_EVENTS_RETENTION_SECONDS: u64 = 86_400;

/// Default longest share lifetime: 30 days.
pub const DEFAULT_SHARE_MAX_LIFETIME_SECONDS: u64 = 30 * 86_400;

/// The configuration file (`clawvault.toml`); every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    data_dir: Option<PathBuf>,
    storage: Option<String>,
    root_key_file: Option<PathBuf>,
    database_url_file: Option<PathBuf>,
    database_max_connections: Option<u32>,
    /// Only read to refuse it with advice: a URL with a password must not sit in a file that
    /// may be committed.
    database_url: Option<toml::Value>,
    listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    log: Option<String>,
    log_format: Option<LogFormat>,
    token_ttl_seconds: Option<u64>,
    auth_rate_burst: Option<u32>,
    auth_rate_per_second: Option<f64>,
    lockout_failures: Option<u32>,
    idle_timeout_seconds: Option<u64>,
    share_max_lifetime_seconds: Option<u64>,
    header_timeout_seconds: Option<u64>,
    body_timeout_seconds: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
    public_url: Option<String>,
    insecure_http: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
    forwarded_header: Option<String>,
    mcp_tool_call_burst: Option<u32>,
    mcp_tool_calls_per_second: Option<f64>,
    mcp_allowed_hosts: Option<Vec<String>>,
    mcp_allowed_origins: Option<Vec<String>>,
    kubernetes_jwks: Option<String>,
    kubernetes_issuer: Option<String>,
    jwt_jwks: Option<String>,
    jwt_issuer: Option<String>,
    connect: Option<ConnectFileConfig>,
    proxy: Option<ProxyFileConfig>,
    github: Option<GithubFileConfig>,
    events_retention_seconds: Option<u64>,
    events_heartbeat_seconds: Option<u64>,
    events_max_streams_per_identity: Option<usize>,
}

/// The `[connect]` table: the 1Password Connect-compatible API.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectFileConfig {
    listen: Option<String>,
}

/// The `[proxy]` table: the credential-injecting proxy.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyFileConfig {
    ca_file: Option<PathBuf>,
}

/// The `[github]` table: where installation tokens are minted.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubFileConfig {
    api_base: Option<String>,
}

/// Values from the environment or flags; each wins over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--config` / `CLAWVAULT_CONFIG`.
    pub config_file: Option<PathBuf>,
    /// `--data-dir` / `CLAWVAULT_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--storage` / `CLAWVAULT_STORAGE`.
    pub storage: Option<String>,
    /// `--root-key-file` / `CLAWVAULT_ROOT_KEY_FILE`.
    pub root_key_file: Option<PathBuf>,
    /// `CLAWVAULT_DATABASE_URL` (environment only: never a flag, which `ps` would show).
    pub database_url: Option<String>,
    /// `--database-url-file` / `CLAWVAULT_DATABASE_URL_FILE`.
    pub database_url_file: Option<PathBuf>,
    /// `--listen` / `CLAWVAULT_LISTEN`.
    pub listen: Option<String>,
    /// `--tls-cert` / `CLAWVAULT_TLS_CERT`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key` / `CLAWVAULT_TLS_KEY`.
    pub tls_key: Option<PathBuf>,
    /// `--log` / `CLAWVAULT_LOG`.
    pub log: Option<String>,
    /// `--log-format` / `CLAWVAULT_LOG_FORMAT`.
    pub log_format: Option<String>,
    /// `--token-ttl` / `CLAWVAULT_TOKEN_TTL_SECONDS`.
    pub token_ttl_seconds: Option<String>,
    /// `--insecure-http` / `CLAWVAULT_INSECURE_HTTP`.
    pub insecure_http: bool,
    /// `--public-url` / `CLAWVAULT_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// `--connect-listen` / `CLAWVAULT_CONNECT_LISTEN`.
    pub connect_listen: Option<String>,
}

/// Everything wrong with a configuration, listed together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// One line per problem.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration has {} problem(s):", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl Config {
    /// Reads the file named in `overrides` (if any), applies the overrides and validates.
    ///
    /// # Errors
    /// A [`ConfigError`] naming every problem found.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let file = match &overrides.config_file {
            Some(path) => file::read(path, &mut problems),
            None => FileConfig::default(),
        };

        let storage = storage(overrides, &file, &mut problems);
        let root_key_file = overrides.root_key_file.clone().or_else(|| file.root_key_file.clone());
        if let Some(p) = &root_key_file
            && !p.is_file()
        {
            problems.push(format!(
                "root_key_file {} does not exist or is not a file: copy the root key the first server created",
                p.display()
            ));
        }
        let data_dir = overrides.data_dir.clone().or(file.data_dir).unwrap_or_else(default_data_dir);
        if data_dir.as_os_str().is_empty() {
            problems.push("data_dir is empty: give a directory such as /var/lib/clawvault".to_owned());
        }

        let listen_raw = overrides.listen.clone().or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_raw.parse::<SocketAddr>().unwrap_or_else(|_| {
            problems.push(format!(
                "listen {listen_raw:?} is not an address: use IP:PORT such as 127.0.0.1:8420 or [::1]:8420"
            ));
            SocketAddr::from(([127, 0, 0, 1], 8420))
        });

        let connect_raw =
            overrides.connect_listen.clone().or_else(|| file.connect.as_ref().and_then(|c| c.listen.clone()));
        let connect_listen = connect_raw.and_then(|raw| {
            let parsed = raw.parse::<SocketAddr>().ok();
            if parsed.is_none() {
                problems.push(format!(
                    "connect.listen {raw:?} is not an address: use IP:PORT such as 127.0.0.1:8430 or [::1]:8430"
                ));
            }
            parsed
        });

        let proxy_ca_file = file.proxy.as_ref().and_then(|p| p.ca_file.clone());
        if let Some(ca) = &proxy_ca_file
            && !ca.is_file()
        {
            problems.push(format!("proxy.ca_file {} does not exist or is not a file", ca.display()));
        }

        let github_api_base = file
            .github
            .as_ref()
            .and_then(|g| g.api_base.clone())
            .unwrap_or_else(|| DEFAULT_GITHUB_API_BASE.to_owned())
            .trim_end_matches('/')
            .to_owned();
        if let Err(problem) = check_github_api_base(&github_api_base) {
            problems.push(format!("github.api_base {github_api_base:?} {problem}"));
        }

        let tls = match (overrides.tls_cert.clone().or(file.tls_cert), overrides.tls_key.clone().or(file.tls_key)) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                for (what, p) in [("tls_cert", &cert), ("tls_key", &key)] {
                    if !p.is_file() {
                        problems.push(format!("{what} {} does not exist or is not a file", p.display()));
                    }
                }
                Some(TlsFiles { cert, key })
            }
            (Some(_), None) => {
                problems.push("tls_cert is set but tls_key is not: give both, or neither for plain HTTP".to_owned());
                None
            }
            (None, Some(_)) => {
                problems.push("tls_key is set but tls_cert is not: give both, or neither for plain HTTP".to_owned());
                None
            }
        };

        let log = overrides.log.clone().or(file.log).unwrap_or_else(|| "info".to_owned());
        if tracing_subscriber::EnvFilter::try_new(&log).is_err() {
            problems.push(format!(
                "log filter {log:?} is invalid: use a level such as info or debug, or directives like clawvault=debug"
            ));
        }

        let log_format = match overrides.log_format.as_deref() {
            None => file.log_format.unwrap_or_default(),
            Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                problems.push(format!("log_format {other:?} is unknown: use text or json"));
                LogFormat::Text
            }
        };

        let token_ttl_seconds = match &overrides.token_ttl_seconds {
            Some(raw) => raw.parse::<u64>().unwrap_or_else(|_| {
                problems.push(format!("token_ttl_seconds {raw:?} is not a whole number of seconds"));
                900
            }),
            None => file.token_ttl_seconds.unwrap_or(900),
        };
        if !(5..=86_400).contains(&token_ttl_seconds) {
            problems.push(format!("token_ttl_seconds {token_ttl_seconds} is out of range: use 5 to 86400"));
        }

        let auth_rate_burst = file.auth_rate_burst.unwrap_or(60);
        let auth_rate_per_second = file.auth_rate_per_second.unwrap_or(10.0);
        let lockout_failures = file.lockout_failures.unwrap_or(20);
        if auth_rate_burst == 0 || !(auth_rate_per_second > 0.0 && auth_rate_per_second.is_finite()) {
            problems.push("auth_rate_burst and auth_rate_per_second must be above zero".to_owned());
        }
        if lockout_failures == 0 {
            problems.push("lockout_failures must be at least 1".to_owned());
        }
        let idle_timeout_seconds = file.idle_timeout_seconds.unwrap_or(30);
        if !(1..=3600).contains(&idle_timeout_seconds) {
            problems.push(format!("idle_timeout_seconds {idle_timeout_seconds} is out of range: use 1 to 3600"));
        }
        let share_max_lifetime_seconds = file.share_max_lifetime_seconds.unwrap_or(DEFAULT_SHARE_MAX_LIFETIME_SECONDS);
        if !(60..=366 * 86_400).contains(&share_max_lifetime_seconds) {
            problems.push(format!(
                "share_max_lifetime_seconds {share_max_lifetime_seconds} is out of range: use 60 to 31622400 (366 days)"
            ));
        }
        let header_timeout_seconds = file.header_timeout_seconds.unwrap_or(10);
        let body_timeout_seconds = file.body_timeout_seconds.unwrap_or(30);
        for (name, value) in
            [("header_timeout_seconds", header_timeout_seconds), ("body_timeout_seconds", body_timeout_seconds)]
        {
            if !(1..=3600).contains(&value) {
                problems.push(format!("{name} {value} is out of range: use 1 to 3600"));
            }
        }
        // Connections beyond the open-file limit would starve the database of descriptors.
        let fitting =
            open_file_limit().map_or(DEFAULT_MAX_CONNECTIONS, |n| n.saturating_sub(RESERVED_DESCRIPTORS).max(1));
        let max_connections = match file.max_connections {
            Some(n) if n > fitting => {
                problems.push(format!(
                    "max_connections {n} is more than this process may open ({fitting} with the open-file limit); raise the limit (ulimit -n) or lower max_connections"
                ));
                n
            }
            Some(n) => n,
            None => DEFAULT_MAX_CONNECTIONS.min(fitting),
        };
        let max_connections_per_address = file.max_connections_per_address.unwrap_or(256).min(max_connections);
        if max_connections == 0 || max_connections_per_address == 0 {
            problems.push("max_connections and max_connections_per_address must be at least 1".to_owned());
        }
        let insecure_http = overrides.insecure_http || file.insecure_http.unwrap_or(false);
        for (name, addr) in [("listen", Some(listen)), ("connect.listen", connect_listen)] {
            if let Some(addr) = addr
                && !addr.ip().is_loopback()
                && tls.is_none()
                && !insecure_http
            {
                problems.push(format!(
                    "{name} {addr} is reachable from other machines but TLS is off, so keys and values would cross the network in the clear: \
                     give tls_cert and tls_key (--tls-cert, --tls-key), or set insecure_http (--insecure-http) if a proxy in front ends TLS"
                ));
            }
        }
        if connect_listen.is_some_and(|c| c == listen && c.port() != 0) {
            problems.push(format!(
                "connect.listen {listen} is the address of the main listener: give the Connect API an address of its own"
            ));
        }
        let public_url = overrides.public_url.clone().or(file.public_url).map(|u| u.trim_end_matches('/').to_owned());
        if let Some(u) = &public_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            problems.push(format!("public_url {u:?} must start with https:// or http://"));
        }
        let mut trusted_proxies = Vec::new();
        for raw in file.trusted_proxies.unwrap_or_default() {
            match raw.parse::<clawvault_core::policy::Cidr>() {
                Ok(c) => trusted_proxies.push(c),
                Err(e) => problems.push(format!("trusted_proxies: {e}")),
            }
        }
        let forwarded_header = match file.forwarded_header.as_deref() {
            None => crate::forwarded::ForwardedHeader::default(),
            Some(name) => crate::forwarded::ForwardedHeader::parse(name).unwrap_or_else(|| {
                problems.push(format!(
                    "forwarded_header {name:?} is unknown: use x-forwarded-for or forwarded (the header your proxy writes)"
                ));
                crate::forwarded::ForwardedHeader::default()
            }),
        };
        let mcp_tool_call_burst = file.mcp_tool_call_burst.unwrap_or(120);
        let mcp_tool_calls_per_second = file.mcp_tool_calls_per_second.unwrap_or(10.0);
        if mcp_tool_call_burst == 0 || !(mcp_tool_calls_per_second > 0.0 && mcp_tool_calls_per_second.is_finite()) {
            problems.push("mcp_tool_call_burst and mcp_tool_calls_per_second must be above zero".to_owned());
        }
        let mcp_allowed_hosts = file.mcp_allowed_hosts.unwrap_or_default();
        let mcp_allowed_origins = file.mcp_allowed_origins.unwrap_or_default();
        for origin in &mcp_allowed_origins {
            if !(origin.starts_with("https://") || origin.starts_with("http://")) {
                problems.push(format!("mcp_allowed_origins: {origin:?} must start with https:// or http://"));
            }
        }
        for (name, value, issuer) in
            [("kubernetes", &file.kubernetes_jwks, &file.kubernetes_issuer), ("jwt", &file.jwt_jwks, &file.jwt_issuer)]
        {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                problems.push(format!("{name}_jwks is empty: give a JWKS file, a JWKS URL or an OIDC discovery URL"));
            }
            if value.is_some() && issuer.as_deref().is_none_or(|i| i.trim().is_empty()) {
                problems.push(format!(
                    "{name}_issuer is required with {name}_jwks: the iss its tokens carry (tokens of other issuers signed with the same keys are refused)"
                ));
            }
        }

        let events_retention_seconds = file.events_retention_seconds.unwrap_or(DEFAULT_EVENTS_RETENTION_SECONDS);
        if !(60..=31 * 86_400).contains(&events_retention_seconds) {
            problems.push(format!(
                "events_retention_seconds {events_retention_seconds} is out of range: use 60 to 2678400 (31 days)"
            ));
        }
        // Below the idle timeout, which would otherwise close a quiet stream between two.
        let events_heartbeat_seconds =
            file.events_heartbeat_seconds.unwrap_or_else(|| 15.min((idle_timeout_seconds / 2).max(1)));
        if !(1..=300).contains(&events_heartbeat_seconds) {
            problems.push(format!("events_heartbeat_seconds {events_heartbeat_seconds} is out of range: use 1 to 300"));
        }
        let events_max_streams_per_identity = file.events_max_streams_per_identity.unwrap_or(100);
        if !(1..=100_000).contains(&events_max_streams_per_identity) {
            problems.push(format!(
                "events_max_streams_per_identity {events_max_streams_per_identity} is out of range: use 1 to 100000"
            ));
        }
        if file.events_heartbeat_seconds.is_some() && events_heartbeat_seconds >= idle_timeout_seconds {
            problems.push(format!(
                "events_heartbeat_seconds {events_heartbeat_seconds} is not below idle_timeout_seconds {idle_timeout_seconds}: an idle event stream would be closed between keep-alives"
            ));
        }

        if problems.is_empty() {
            Ok(Self {
                data_dir,
                storage,
                root_key_file,
                listen,
                tls,
                log,
                log_format,
                token_ttl_seconds,
                auth_rate_burst,
                auth_rate_per_second,
                lockout_failures,
                idle_timeout_seconds,
                share_max_lifetime_seconds,
                header_timeout_seconds,
                body_timeout_seconds,
                max_connections,
                max_connections_per_address,
                public_url,
                insecure_http,
                trusted_proxies,
                forwarded_header,
                mcp_tool_call_burst,
                mcp_tool_calls_per_second,
                mcp_allowed_hosts,
                mcp_allowed_origins,
                kubernetes_jwks: file.kubernetes_jwks,
                kubernetes_issuer: file.kubernetes_issuer,
                jwt_jwks: file.jwt_jwks,
                jwt_issuer: file.jwt_issuer,
                connect_listen,
                proxy_ca_file,
                github_api_base,
                events_retention_seconds,
                events_heartbeat_seconds,
                events_max_streams_per_identity,
            })
        } else {
            Err(ConfigError { problems })
        }
    }
}

/// GitHub's API base: an https URL, or plain http to an address written literally (a test or
/// an appliance on the host's own network), without a query.
fn check_github_api_base(raw: &str) -> Result<(), &'static str> {
    let url =
        reqwest::Url::parse(raw).map_err(|_| "is not a URL: use https://api.github.com or https://HOST/api/v3")?;
    let literal = url
        .host_str()
        .is_some_and(|h| h.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok());
    match url.scheme() {
        "https" => {}
        "http" if literal => {}
        _ => return Err("must be https (plain http only to an IP address)"),
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("must carry no query, fragment or credentials");
    }
    Ok(())
}

fn storage(overrides: &Overrides, file: &FileConfig, problems: &mut Vec<String>) -> Storage {
    if file.database_url.is_some() {
        problems.push(
            "database_url must not be written in the configuration file: set CLAWVAULT_DATABASE_URL, \
             or database_url_file to a file holding the URL"
                .to_owned(),
        );
    }
    let kind = overrides.storage.clone().or_else(|| file.storage.clone()).unwrap_or_else(|| "sqlite".to_owned());
    match kind.as_str() {
        "sqlite" => Storage::Sqlite,
        "postgres" => {
            let url_file = overrides.database_url_file.clone().or_else(|| file.database_url_file.clone());
            let url = match (&overrides.database_url, url_file) {
                (Some(url), _) => Some(url.trim().to_owned()),
                (None, Some(path)) => match std::fs::read_to_string(&path) {
                    Ok(text) => Some(text.trim().to_owned()),
                    Err(e) => {
                        problems.push(format!("database_url_file {}: {e}", path.display()));
                        None
                    }
                },
                (None, None) => {
                    problems.push(
                        "storage is postgres but no database is named: set CLAWVAULT_DATABASE_URL or \
                         database_url_file (postgres://user@host:5432/dbname)"
                            .to_owned(),
                    );
                    None
                }
            };
            let url = url.unwrap_or_default();
            if !(url.is_empty() || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                problems.push("the database URL must start with postgres:// or postgresql://".to_owned());
            }
            let max_connections =
                file.database_max_connections.unwrap_or(clawvault_store_postgres::DEFAULT_MAX_CONNECTIONS);
            if max_connections == 0 {
                problems.push("database_max_connections must be at least 1".to_owned());
            }
            Storage::Postgres { url, max_connections }
        }
        other => {
            problems.push(format!("storage {other:?} is unknown: use sqlite (one server) or postgres (several)"));
            Storage::Sqlite
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_beyond_loopback_needs_insecure_http() {
        let public = Overrides { listen: Some("0.0.0.0:8420".into()), ..Overrides::default() };
        let err = Config::load(&public).unwrap_err().to_string();
        assert!(err.contains("TLS is off"), "{err}");
        assert!(Config::load(&Overrides { insecure_http: true, ..public }).is_ok());
        assert!(Config::load(&Overrides { listen: Some("[::1]:8420".into()), ..Overrides::default() }).is_ok());
    }

    #[test]
    fn defaults() {
        let c = Config::load(&Overrides::default()).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.data_dir, default_data_dir());
        assert!(c.tls.is_none());
        assert_eq!(c.storage, Storage::Sqlite);
    }

    #[test]
    fn postgres_url_from_env_or_file_never_inline() {
        let o = Overrides {
            storage: Some("postgres".into()),
            database_url: Some("postgres://u:hunter2@db/cv".into()),
            ..Overrides::default()
        };
        let c = Config::load(&o).unwrap();
        assert!(matches!(&c.storage, Storage::Postgres { url, .. } if url == "postgres://u:hunter2@db/cv"));
        assert!(!format!("{c:?}").contains("hunter2"), "the URL's password never reaches Debug output");

        let dir = tempfile::tempdir().unwrap();
        let url_file = dir.path().join("url");
        std::fs::write(&url_file, "postgresql://db/cv\n").unwrap();
        let o =
            Overrides { storage: Some("postgres".into()), database_url_file: Some(url_file), ..Overrides::default() };
        assert!(
            matches!(Config::load(&o).unwrap().storage, Storage::Postgres { url, .. } if url == "postgresql://db/cv")
        );

        let err = Config::load(&Overrides { storage: Some("postgres".into()), ..Overrides::default() }).unwrap_err();
        assert!(err.to_string().contains("CLAWVAULT_DATABASE_URL"), "{err}");

        let path = dir.path().join("c.toml");
        std::fs::write(&path, "storage = \"postgres\"\ndatabase_url = \"postgres://u:pw@db/cv\"\n").unwrap();
        let err = Config::load(&Overrides { config_file: Some(path), ..Overrides::default() }).unwrap_err().to_string();
        assert!(err.contains("must not be written in the configuration file"), "{err}");
        assert!(!err.contains("pw@"), "{err}");

        let missing = Overrides { root_key_file: Some(dir.path().join("nope.key")), ..Overrides::default() };
        assert!(Config::load(&missing).unwrap_err().to_string().contains("root_key_file"));

        let err = Config::load(&Overrides { storage: Some("mysql".into()), ..Overrides::default() }).unwrap_err();
        assert!(err.to_string().contains("unknown"), "{err}");
    }

    #[test]
    fn every_problem_is_listed() {
        let o = Overrides {
            listen: Some("nowhere".into()),
            tls_cert: Some("/nonexistent/cert.pem".into()),
            log: Some("info,[".into()),
            log_format: Some("xml".into()),
            token_ttl_seconds: Some("4".into()),
            ..Overrides::default()
        };
        let err = Config::load(&o).unwrap_err();
        assert_eq!(err.problems.len(), 5, "{err}");
        let text = err.to_string();
        for needle in ["listen", "tls_key", "log filter", "log_format", "token_ttl_seconds"] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn file_values_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/x\"\n").unwrap();
        let mut o = Overrides { config_file: Some(path.clone()), ..Overrides::default() };
        let c = Config::load(&o).unwrap();
        assert_eq!(c.listen.port(), 9000);
        o.listen = Some("127.0.0.1:9001".into());
        assert_eq!(Config::load(&o).unwrap().listen.port(), 9001, "overrides win over the file");
        std::fs::write(&path, "lissten = \"x\"\n").unwrap();
        let err = Config::load(&o).unwrap_err().to_string();
        assert!(err.contains("lissten"), "{err}");
    }

    #[test]
    fn the_connect_listener_is_off_by_default_and_set_by_table_or_flag() {
        assert_eq!(Config::load(&Overrides::default()).unwrap().connect_listen, None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[connect]\nlisten = \"127.0.0.1:8430\"\n").unwrap();
        let mut o = Overrides { config_file: Some(path.clone()), ..Overrides::default() };
        assert_eq!(Config::load(&o).unwrap().connect_listen.map(|a| a.port()), Some(8430));
        o.connect_listen = Some("127.0.0.1:8431".into());
        assert_eq!(Config::load(&o).unwrap().connect_listen.map(|a| a.port()), Some(8431), "the flag wins");

        std::fs::write(&path, "[connect]\nlisen = \"127.0.0.1:8430\"\n").unwrap();
        let err = Config::load(&Overrides { config_file: Some(path), ..Overrides::default() }).unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");

        for (raw, needle) in
            [("nowhere", "not an address"), ("0.0.0.0:8430", "TLS is off"), (DEFAULT_LISTEN, "of its own")]
        {
            let o = Overrides { connect_listen: Some(raw.into()), ..Overrides::default() };
            let err = Config::load(&o).unwrap_err().to_string();
            assert!(err.contains("connect.listen") && err.contains(needle), "{raw}: {err}");
        }
    }
}
