//! `clawvault export dotenv|json`: the way back from a vault to a file, for a tool that only
//! reads `.env` or JSON. The secrets under a prefix (each needs `read`) are written to a private
//! file (0600, atomically), named by their path under the prefix; never to the terminal.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::cli::Global;
use crate::context;
use crate::exit::Coded;
use crate::files;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write the secrets under a prefix as a `.env` file (one variable per secret).
    #[command(after_help = "\
Examples:
  clawvault export dotenv --vault prod --prefix bots/discord -o bot.env
  clawvault export dotenv --vault prod --prefix bots/discord -o bot.env --force

bots/discord/DISCORD_TOKEN becomes DISCORD_TOKEN; values are quoted so that dotenv tools read
them back as they are (single quotes, never expanded; double quotes when a value holds one).")]
    Dotenv(Source),
    /// Write the secrets under a prefix as one JSON object of strings.
    #[command(after_help = "\
Examples:
  clawvault export json --vault prod --prefix bots/discord -o bot.json")]
    Json(Source),
}

/// What to export, and where to.
#[derive(Debug, Args)]
pub struct Source {
    /// The vault (name or id).
    #[arg(long, value_name = "VAULT")]
    vault: String,
    /// Only the secrets under this path; names are their paths below it.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    prefix: String,
    /// The file to write (mode 0600, atomically).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Replace a file that clawvault did not write (or that changed since).
    #[arg(long)]
    force: bool,
}

/// Runs an `export` command.
///
/// # Errors
/// API errors; a secret that cannot be written in the format (named).
pub async fn run(global: &Global, command: ExportCommand) -> Result<()> {
    let (json, source) = match command {
        ExportCommand::Dotenv(s) => (false, s),
        ExportCommand::Json(s) => (true, s),
    };
    let client = context::client(global)?;
    let prefix = source.prefix.trim_end_matches('/');
    let listed = client.list_secrets(&source.vault, prefix).await?;
    let mut values: Vec<(String, Zeroizing<String>)> = Vec::with_capacity(listed.len());
    for meta in &listed {
        let name = if prefix.is_empty() {
            meta.path.clone()
        } else {
            match meta.path.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
                Some(rest) => rest.to_owned(),
                // `bots/discord-2` lists under the prefix `bots/discord` but is not below it.
                None => continue,
            }
        };
        let secret = client.get_secret(&source.vault, &meta.path, None).await?;
        let text = secret.value.expose_str().ok_or_else(|| {
            Coded::invalid(format!(
                "{}/{} is not text, which a {} file cannot hold",
                source.vault,
                meta.path,
                kind(json)
            ))
        })?;
        values.push((name, Zeroizing::new(text.to_owned())));
    }
    let rendered = if json {
        let map: serde_json::Map<String, serde_json::Value> =
            values.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.to_string()))).collect();
        let mut text = Zeroizing::new(serde_json::to_string_pretty(&map)?);
        text.push('\n');
        text
    } else {
        clawvault_core::dotenv::render(values.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| Coded::invalid(format!("{}: {e}; export json keeps every name and value", source.vault)))?
    };
    if !source.force {
        files::check_ours(&source.output)?;
    }
    files::write_atomic(&source.output, rendered.as_bytes(), 0o600, None)
        .with_context(|| format!("writing the {} file", kind(json)))?;
    files::remember(&source.output);
    output::done(
        global.json,
        "exported",
        serde_json::json!({ "file": source.output, "secrets": values.len() }),
        &format!("Wrote {} secrets to {} (mode 0600).", values.len(), source.output.display()),
    )
}

fn kind(json: bool) -> &'static str {
    if json { "JSON" } else { "dotenv" }
}
