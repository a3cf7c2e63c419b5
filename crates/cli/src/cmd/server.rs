//! `clawvault server`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use clawvault_server::config::LogFormat;
use clawvault_server::{Config, Overrides, Server};
use tracing_subscriber::EnvFilter;

use crate::exit::{Coded, INVALID};

/// `clawvault server`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault server                          # ~/.local/share/clawvault, http://127.0.0.1:8420
  clawvault server --detach                 # the same in the background, once it answers
  clawvault server --data-dir /var/lib/clawvault --listen 0.0.0.0:8420 \\
      --tls-cert /etc/clawvault/cert.pem --tls-key /etc/clawvault/key.pem
  clawvault server --config /etc/clawvault/clawvault.toml
  clawvault server --connect-listen 127.0.0.1:8430   # also the 1Password Connect API
  CLAWVAULT_DATABASE_URL=postgres://clawvault@db:5432/clawvault \\
      clawvault server --storage postgres --listen 0.0.0.0:8420   # one of several replicas

With --storage postgres every replica needs the same root key (root.key in its data directory,
or --root-key-file); the database URL comes from CLAWVAULT_DATABASE_URL or --database-url-file, never from a flag.

Every flag can also come from the environment (CLAWVAULT_DATA_DIR, CLAWVAULT_LISTEN, ...) or the
config file; flags win over the environment, which wins over the file.")]
pub struct ServerArgs {
    /// TOML configuration file.
    #[arg(long, env = "CLAWVAULT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (database, root key, first admin key) [default: ~/.local/share/clawvault,
    /// or $XDG_DATA_HOME/clawvault].
    #[arg(long, env = "CLAWVAULT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where the data lives: sqlite (one server, the default) or postgres (several replicas).
    #[arg(long, env = "CLAWVAULT_STORAGE", value_name = "KIND")]
    pub storage: Option<String>,
    /// The root key file, when not root.key in the data directory (replicas share one).
    #[arg(long, env = "CLAWVAULT_ROOT_KEY_FILE", value_name = "FILE")]
    pub root_key_file: Option<PathBuf>,
    /// A file holding the PostgreSQL URL (a mounted Kubernetes Secret, say).
    #[arg(long, env = "CLAWVAULT_DATABASE_URL_FILE", value_name = "FILE")]
    pub database_url_file: Option<PathBuf>,
    /// Listen address (IP:PORT; port 0 picks a free one).
    #[arg(long, env = "CLAWVAULT_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// TLS certificate chain (PEM).
    #[arg(long, env = "CLAWVAULT_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "CLAWVAULT_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Log filter (`info`, `debug`, `clawvault_server=trace`, ...).
    #[arg(long, env = "CLAWVAULT_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "CLAWVAULT_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Serve plain HTTP on an address other machines can reach (a proxy in front ends TLS);
    /// without it, such an address needs --tls-cert and --tls-key.
    #[arg(long, env = "CLAWVAULT_INSECURE_HTTP")]
    pub insecure_http: bool,
    /// The address clients reach this server at, for share links (https://vault.example.com).
    #[arg(long, env = "CLAWVAULT_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Also serve the 1Password Connect-compatible API on this address (IP:PORT; port 0 picks
    /// a free one), for ESO's onepassword provider and Connect SDKs; off by default.
    #[arg(long, env = "CLAWVAULT_CONNECT_LISTEN", value_name = "ADDR")]
    pub connect_listen: Option<String>,
    /// Lifetime of access tokens, in seconds (5 to 86400).
    #[arg(long, env = "CLAWVAULT_TOKEN_TTL_SECONDS", value_name = "SECONDS")]
    pub token_ttl: Option<String>,
    /// Run in the background: return once the server answers, with its log in server.log in
    /// the data directory.
    #[arg(long)]
    pub detach: bool,
}

fn init_tracing(config: &Config) {
    let mut filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // rmcp logs requests and results (tool arguments and answers: values) at debug, and the
    // errors of arguments that do not parse (which quote them) at warn: never, whatever the
    // configured filter. The MCP surface logs through its own audit instead.
    if let Ok(silent) = "rmcp=off".parse() {
        filter = filter.add_directive(silent);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}

/// Runs the server until SIGINT or SIGTERM.
///
/// # Errors
/// Configuration, startup and serving failures.
pub async fn run(args: ServerArgs) -> Result<()> {
    // First, before the configuration brings a database password or `--detach` relays the first
    // admin key (a detached server is a new process: it makes this call itself).
    let private = crate::private_memory::keep_private();
    let overrides = Overrides {
        config_file: args.config,
        data_dir: args.data_dir,
        storage: args.storage,
        root_key_file: args.root_key_file,
        // Only from the environment: a flag would show the password in `ps`.
        database_url: std::env::var("CLAWVAULT_DATABASE_URL").ok().filter(|u| !u.is_empty()),
        database_url_file: args.database_url_file,
        listen: args.listen,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        log: args.log,
        log_format: args.log_format,
        token_ttl_seconds: args.token_ttl,
        insecure_http: args.insecure_http,
        public_url: args.public_url,
        connect_listen: args.connect_listen,
    };
    let config =
        Config::load(&overrides).map_err(|e| Coded { code: INVALID, message: e.to_string().trim_end().to_owned() })?;
    if args.detach {
        return super::detach::start(&config.data_dir);
    }
    init_tracing(&config);
    if let Err(e) = private {
        tracing::warn!(error = %e, "could not turn core dumps off: a crash may write keys and secret values to a core file");
    }
    let tls_cert = config.tls.as_ref().map(|t| t.cert.clone());
    let server = Server::start(config).await?;
    let url = server.local_url();
    let mut out = std::io::stdout().lock();
    writeln!(out, "clawvault {} listening on {url}", env!("CARGO_PKG_VERSION"))?;
    let data_dir = std::path::absolute(server.data_dir().path()).unwrap_or_else(|_| server.data_dir().path().into());
    writeln!(out, "data directory: {}", data_dir.display())?;
    if let Some(connect) = server.connect_url() {
        writeln!(out, "1Password Connect API listening on {connect}")?;
    }
    if let Some(key) = server.new_admin_key() {
        let key_file = data_dir.join(clawvault_server::ADMIN_KEY_FILE);
        writeln!(out)?;
        writeln!(out, "First admin API key (shown once; saved in {}, mode 0600):", key_file.display())?;
        writeln!(out, "  {}", key.expose())?;
        writeln!(out)?;
        let ca = match &tls_cert {
            Some(cert) => {
                format!(" --ca-cert {}", std::path::absolute(cert).unwrap_or_else(|_| cert.clone()).display())
            }
            None => String::new(),
        };
        writeln!(out, "Log the CLI in (from any directory, as this user or another):")?;
        writeln!(out, "  clawvault login --address {url} --from-file {}{ca}", key_file.display())?;
        writeln!(
            out,
            "Then: echo -n s3cret | clawvault secret put default/hello && clawvault secret get default/hello"
        )?;
    }
    if super::detach::is_detached_child() {
        writeln!(out, "{}", super::detach::READY)?;
    }
    out.flush()?;
    drop(out);
    tracing::info!(address = %server.local_addr(), "serving");
    server.serve(shutdown_signal()).await?;
    Ok(())
}
