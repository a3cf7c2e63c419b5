//! `clawvault server`.

use std::io::Write;

use anyhow::Result;
use clawvault_server::config::LogFormat;
use clawvault_server::{Config, Overrides, Server};
use tracing_subscriber::EnvFilter;

use crate::cli::ServerArgs;
use crate::exit::{Coded, INVALID};

fn init_tracing(config: &Config) {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
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
    };
    let config =
        Config::load(&overrides).map_err(|e| Coded { code: INVALID, message: e.to_string().trim_end().to_owned() })?;
    init_tracing(&config);
    let server = Server::start(config).await?;
    let scheme = if server.is_tls() { "https" } else { "http" };
    let mut out = std::io::stdout().lock();
    writeln!(out, "clawvault {} listening on {scheme}://{}", env!("CARGO_PKG_VERSION"), server.local_addr())?;
    writeln!(out, "data directory: {}", server.data_dir().path().display())?;
    if let Some(key) = server.new_admin_key() {
        writeln!(out)?;
        writeln!(
            out,
            "First admin API key (shown once; saved for the local CLI in {}, mode 0600):",
            server.data_dir().admin_key_file().display()
        )?;
        writeln!(out, "  {}", key.expose())?;
        writeln!(out)?;
        writeln!(
            out,
            "Next: echo -n s3cret | clawvault secret put default/hello && clawvault secret get default/hello"
        )?;
    }
    out.flush()?;
    drop(out);
    tracing::info!(address = %server.local_addr(), "serving");
    server.serve(shutdown_signal()).await?;
    Ok(())
}
