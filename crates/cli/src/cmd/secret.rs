//! `clawvault secret ...`.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use clawvault_client::{PutSecret, Rotate};

use super::{deadline, split_reference};
use crate::cli::Global;
use crate::context;
use crate::exit::Coded;
use crate::output::{self, Table, short_time};
use crate::value_format::{self, Format};

/// Where a new value comes from.
#[derive(Debug, Args)]
pub struct ValueSource {
    /// Read the value from this file, byte for byte (otherwise stdin, or a hidden prompt); a
    /// binary file is stored as a `file` secret and comes back byte for byte.
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Keep a trailing newline read from stdin (dropped by default).
    #[arg(long)]
    pub keep_newline: bool,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a new version of a secret (value from stdin, a file, or a hidden prompt).
    #[command(after_help = "\
Examples:
  echo -n 'sk-live-123' | clawvault secret put prod/openai/api-key
  clawvault secret put prod/tls/cert --from-file cert.pem --type certificate
  clawvault secret put prod/db/password --expires-in 24h --max-reads 3 --metadata '{\"owner\":\"ops\"}'")]
    Put {
        /// VAULT/PATH, e.g. prod/openai/api-key.
        reference: String,
        #[command(flatten)]
        source: ValueSource,
        /// Type: generic, password, api_key, private_key, certificate, file, note, ssh_key, env_bundle, env.
        #[arg(long = "type", value_name = "TYPE")]
        secret_type: Option<String>,
        /// Metadata as a JSON object.
        #[arg(long, value_name = "JSON")]
        metadata: Option<String>,
        /// Unreadable after this time (RFC 3339).
        #[arg(long, value_name = "TIME", conflicts_with = "expires_in")]
        expires_at: Option<String>,
        /// Unreadable after this long (e.g. 30m, 24h, 7d).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
        /// Reads allowed before the secret answers 410.
        #[arg(long, value_name = "N")]
        max_reads: Option<i64>,
    },
    /// Print a secret's value (or, with --json, the whole record).
    #[command(after_help = "\
Examples:
  clawvault secret get prod/openai/api-key
  clawvault secret get prod/openai/api-key --version 2
  export OPENAI_API_KEY=\"$(clawvault secret get prod/openai/api-key)\"
  clawvault secret get prod/db/main --field password         # one field of a JSON secret
  clawvault secret get prod/db/main --format env >> .env     # USER='app' PASSWORD='...'
  clawvault secret get prod/tls/bundle.p12 > bundle.p12      # a binary file, byte for byte")]
    Get {
        /// VAULT/PATH.
        reference: String,
        /// A specific version.
        #[arg(long)]
        version: Option<i64>,
        /// Only this field of a JSON secret.
        #[arg(long, value_name = "NAME")]
        field: Option<String>,
        /// raw (the value as stored), env (NAME='value' lines), json or yaml.
        #[arg(long, value_enum, default_value = "raw", conflicts_with = "json")]
        format: Format,
    },
    /// List secrets in a vault (never values).
    #[command(after_help = "\
Examples:
  clawvault secret list prod
  clawvault secret list prod --prefix openai/
  clawvault secret list prod --format yaml")]
    List {
        /// Vault name or id.
        vault: String,
        /// Only paths starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// table, json (as --json) or yaml.
        #[arg(long, value_enum, default_value = "table", conflicts_with = "json")]
        format: ListFormat,
    },
    /// List a secret's versions, newest first.
    #[command(after_help = "Examples:\n  clawvault secret versions prod/openai/api-key")]
    Versions {
        /// VAULT/PATH.
        reference: String,
    },
    /// Delete a secret (all versions; an admin can restore it).
    #[command(after_help = "Examples:\n  clawvault secret delete prod/old/token")]
    Delete {
        /// VAULT/PATH.
        reference: String,
    },
    /// Restore a deleted secret (admins).
    #[command(after_help = "Examples:\n  clawvault secret restore prod/old/token")]
    Restore {
        /// VAULT/PATH.
        reference: String,
    },
    /// Replace a secret's value with one the server generates.
    #[command(
        after_help = "Examples:\n  clawvault secret rotate prod/webhook/signing-key --length 64 --charset alphanumeric"
    )]
    Rotate {
        /// VAULT/PATH.
        reference: String,
        /// Length, 8 to 1024.
        #[arg(long, default_value_t = 32)]
        length: usize,
        /// hex, base64, alphanumeric or ascii.
        #[arg(long, default_value = "hex")]
        charset: String,
    },
    /// Disable one version (kept for the record; reads answer 410).
    #[command(after_help = "Examples:\n  clawvault secret disable prod/openai/api-key 3")]
    Disable {
        /// VAULT/PATH.
        reference: String,
        /// Version number.
        version: i64,
    },
}

/// How `secret list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// Aligned columns to read.
    Table,
    /// JSON, as --json.
    Json,
    /// YAML.
    Yaml,
}

/// `--expires-at`, checked here so that the error names the flag that was given.
fn future_time(raw: &str) -> Result<String> {
    use time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::parse(raw, &Rfc3339)
        .map_err(|_| Coded::invalid(format!("--expires-at {raw:?} is not a time such as 2026-12-31T00:00:00Z")))?;
    if at <= time::OffsetDateTime::now_utc() {
        return Err(Coded::invalid(format!("--expires-at {raw} is in the past")));
    }
    Ok(raw.to_owned())
}

/// Reads a new value from a file, stdin, or a hidden prompt; never from the command line.
pub(crate) fn read_value(source: &ValueSource) -> Result<Vec<u8>> {
    let bytes = if let Some(path) = &source.from_file {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Value (input hidden): ")?.into_bytes()
    } else {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        if !source.keep_newline {
            if buf.ends_with(b"\r\n") {
                buf.truncate(buf.len() - 2);
            } else if buf.ends_with(b"\n") {
                buf.truncate(buf.len() - 1);
            }
        }
        buf
    };
    if bytes.is_empty() {
        return Err(Coded::invalid("the value is empty: pipe it on stdin, or use --from-file"));
    }
    Ok(bytes)
}

/// Runs a secret command.
///
/// # Errors
/// Client errors and invalid input.
pub async fn run(global: &Global, cmd: SecretCommand) -> Result<()> {
    let client = context::client(global)?;
    match cmd {
        SecretCommand::Put { reference, source, secret_type, metadata, expires_at, expires_in, max_reads } => {
            let (vault, path) = split_reference(&reference)?;
            let metadata = metadata
                .map(|m| {
                    serde_json::from_str::<serde_json::Value>(&m)
                        .map_err(|_| Coded::invalid("--metadata must be a JSON object, e.g. '{\"owner\":\"ops\"}'"))
                })
                .transpose()?;
            let expires_at = match expires_at {
                Some(at) => Some(future_time(&at)?),
                None => deadline(expires_in.as_deref())?,
            };
            let (value, secret_type, metadata) =
                value_format::for_storage(read_value(&source)?, secret_type, metadata)?;
            let mut put = PutSecret::with_value(value);
            put.secret_type = secret_type;
            put.metadata = metadata;
            put.expires_at = expires_at;
            put.max_access_count = max_reads;
            let created = client.put_secret(vault, path, &put).await?;
            if global.json {
                output::json(&created)?;
            } else {
                println!("Stored {vault}/{} version {}.", created.path, created.version);
            }
        }
        SecretCommand::Get { reference, version, field, format } => {
            let (vault, path) = split_reference(&reference)?;
            let secret = client.get_secret(vault, path, version).await?;
            if global.json && field.is_none() {
                output::json(&secret)?;
            } else {
                let format = if global.json { Format::Json } else { format };
                let bytes = value_format::render(&secret, field.as_deref(), format)?;
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes)?;
                if format == Format::Raw && std::io::stdout().is_terminal() {
                    out.write_all(b"\n")?;
                }
                out.flush()?;
            }
        }
        SecretCommand::List { vault, prefix, format } => {
            let list = client.list_secrets(&vault, &prefix).await?;
            if global.json || format == ListFormat::Json {
                output::json(&list)?;
            } else if format == ListFormat::Yaml {
                print!("{}", output::yaml(&serde_json::to_value(&list)?));
            } else {
                let mut t = Table::new(vec!["PATH", "TYPE", "VERSION", "UPDATED", "EXPIRES"]);
                for s in &list {
                    t.row(vec![
                        s.path.clone(),
                        s.secret_type.clone(),
                        s.version.to_string(),
                        short_time(&s.created_at),
                        s.expires_at.as_deref().map_or_else(|| "-".to_owned(), short_time),
                    ]);
                }
                print!("{}", t.render());
            }
        }
        SecretCommand::Versions { reference } => {
            let (vault, path) = split_reference(&reference)?;
            let versions = client.list_versions(vault, path).await?;
            if global.json {
                output::json(&versions)?;
            } else {
                let mut t = Table::new(vec!["VERSION", "TYPE", "CREATED", "STATE", "READS"]);
                for v in &versions {
                    let state = if v.is_disabled { "disabled" } else { "active" };
                    let reads = match v.max_access_count {
                        Some(max) => format!("{}/{max}", v.access_count),
                        None => "-".to_owned(),
                    };
                    t.row(vec![
                        v.version.to_string(),
                        v.secret_type.clone(),
                        short_time(&v.created_at),
                        state.to_owned(),
                        reads,
                    ]);
                }
                print!("{}", t.render());
            }
        }
        SecretCommand::Delete { reference } => {
            let (vault, path) = split_reference(&reference)?;
            client.delete_secret(vault, path).await?;
            output::done(
                global.json,
                "deleted",
                &reference,
                &format!("Deleted {reference} (an admin can restore it with `clawvault secret restore {reference}`)."),
            )?;
        }
        SecretCommand::Restore { reference } => {
            let (vault, path) = split_reference(&reference)?;
            let meta = client.restore_secret(vault, path).await?;
            if global.json {
                output::json(&meta)?;
            } else {
                println!("Restored {reference} at version {}.", meta.version);
            }
        }
        SecretCommand::Rotate { reference, length, charset } => {
            let (vault, path) = split_reference(&reference)?;
            let created = client
                .rotate_secret(vault, path, &Rotate { value: None, length: Some(length), charset: Some(charset) })
                .await?;
            if global.json {
                output::json(&created)?;
            } else {
                println!("Rotated {reference}: version {} holds a new generated value.", created.version);
            }
        }
        SecretCommand::Disable { reference, version } => {
            let (vault, path) = split_reference(&reference)?;
            client.disable_version(vault, path, version).await?;
            output::done(global.json, "disabled", &reference, &format!("Disabled version {version} of {reference}."))?;
        }
    }
    Ok(())
}
