//! `clawvault secret ...`.

use std::io::{IsTerminal, Read, Write};

use anyhow::{Context, Result};
use clawvault_client::{PutSecret, Rotate, SecretValue};

use super::{deadline, split_reference};
use crate::cli::{Global, SecretCommand, ValueSource};
use crate::context;
use crate::exit::Coded;
use crate::output::{self, Table, short_time};

/// Reads a new value from a file, stdin, or a hidden prompt; never from the command line.
fn read_value(source: &ValueSource) -> Result<SecretValue> {
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
    let value = SecretValue::new(bytes);
    if value.is_empty() {
        return Err(Coded::invalid("the value is empty: pipe it on stdin, or use --from-file"));
    }
    if value.expose_str().is_none() {
        return Err(Coded::invalid("the value is not UTF-8 text: base64-encode binary content first"));
    }
    Ok(value)
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
                Some(at) => Some(at),
                None => deadline(expires_in.as_deref())?,
            };
            let mut put = PutSecret::with_value(read_value(&source)?);
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
        SecretCommand::Get { reference, version } => {
            let (vault, path) = split_reference(&reference)?;
            let secret = client.get_secret(vault, path, version).await?;
            if global.json {
                output::json(&secret)?;
            } else {
                let mut out = std::io::stdout().lock();
                out.write_all(secret.value.expose())?;
                if std::io::stdout().is_terminal() {
                    out.write_all(b"\n")?;
                }
                out.flush()?;
            }
        }
        SecretCommand::List { vault, prefix } => {
            let list = client.list_secrets(&vault, &prefix).await?;
            if global.json {
                output::json(&list)?;
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
            let created =
                client.rotate_secret(vault, path, &Rotate { length: Some(length), charset: Some(charset) }).await?;
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
