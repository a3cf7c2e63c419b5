//! `clawvault vault ...`.

use std::collections::HashMap;
use std::io::IsTerminal;

use anyhow::Result;
use clap::Subcommand;
use clawvault_client::Client;
use uuid::Uuid;

use super::one_named;
use crate::cli::Global;
use crate::context;
use crate::exit::Coded;
use crate::output::{self, Table, short_time};

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Create a vault.
    #[command(after_help = "Examples:\n  clawvault vault create prod --description 'production bots'")]
    Create {
        /// Name: letters, digits, - and _.
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List vaults.
    #[command(after_help = "Examples:\n  clawvault vault list\n  clawvault vault list --json | jq -r '.[].name'")]
    List,
    /// Delete a vault and every secret in it.
    #[command(after_help = "Examples:\n  clawvault vault delete staging --yes")]
    Delete {
        /// Vault name or id.
        vault: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs a vault command.
///
/// # Errors
/// Client errors.
pub async fn run(global: &Global, cmd: VaultCommand) -> Result<()> {
    let client = context::client(global)?;
    match cmd {
        VaultCommand::Create { name, description } => {
            let v = client.create_vault(&name, &description).await?;
            if global.json {
                output::json(&v)?;
            } else {
                println!("Created vault {} ({}).", v.name, v.id);
            }
        }
        VaultCommand::List => {
            let vaults = client.list_vaults().await?;
            if global.json {
                output::json(&vaults)?;
            } else {
                let mut t = Table::new(vec!["NAME", "ID", "CREATED", "DESCRIPTION"]);
                for v in &vaults {
                    t.row(vec![v.name.clone(), v.id.to_string(), short_time(&v.created_at), v.description.clone()]);
                }
                print!("{}", t.render());
            }
        }
        VaultCommand::Delete { vault, yes } => {
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(Coded::invalid(format!(
                        "deleting vault {vault:?} removes every secret in it: add --yes to confirm"
                    )));
                }
                eprint!("Delete vault {vault:?} and every secret in it? Type its name to confirm: ");
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if answer.trim() != vault {
                    return Err(Coded::invalid("not confirmed; nothing was deleted"));
                }
            }
            client.delete_vault(&vault).await?;
            output::done(global.json, "deleted", &vault, &format!("Deleted vault {vault}."))?;
        }
    }
    Ok(())
}

/// The ids of vaults given by name or id (`--vault`); `None` when none are given.
///
/// # Errors
/// Not found for a vault the caller cannot see; client errors.
pub async fn ids(client: &Client, refs: &[String]) -> Result<Option<Vec<Uuid>>> {
    if refs.is_empty() {
        return Ok(None);
    }
    let vaults = client.list_vaults().await?;
    let mut ids = Vec::new();
    for raw in refs {
        let v = one_named(&vaults, raw, |v| (v.id.to_string(), v.name.as_str()), "vault", "clawvault vault list")?;
        if !ids.contains(&v.id) {
            ids.push(v.id);
        }
    }
    Ok(Some(ids))
}

/// Vault names by id, for showing bindings; empty when the vaults cannot be listed.
pub async fn names(client: &Client) -> HashMap<Uuid, String> {
    client.list_vaults().await.map(|vs| vs.into_iter().map(|v| (v.id, v.name)).collect()).unwrap_or_default()
}
