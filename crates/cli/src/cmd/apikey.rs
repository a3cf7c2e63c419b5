//! `clawvault apikey ...`: your own `1ck_` API keys.

use anyhow::Result;
use clap::Subcommand;
use clawvault_client::{ApiKey, Client, NewApiKey};
use uuid::Uuid;

use super::{confirm_delete, deadline, one_named, or_dash};
use crate::cli::Global;
use crate::context;
use crate::output::{self, Table, short_time};

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Make an API key for yourself; it is printed once.
    #[command(after_help = "\
Examples:
  clawvault apikey create laptop --expires-in 90d
  clawvault apikey create ci-reader --scope secrets:read --scope vaults:read --json \\
      | jq -r .api_key > ci.key

A key can do what you can, or with --scope only the named part of it (an unknown scope is
refused with the list). It never outlives the key you make it with.")]
    Create {
        /// A label to recognise it by.
        name: String,
        /// Only this part of what you may do (`area:action`, e.g. secrets:read); repeat for more.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// The key stops working after this long (e.g. 12h, 30d).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// List your API keys (their prefixes, never the keys).
    #[command(after_help = "Examples:\n  clawvault apikey list\n  clawvault apikey list --json")]
    List,
    /// Delete one of your API keys: it and the tokens made from it stop working at once.
    #[command(after_help = "\
Examples:
  clawvault apikey delete laptop --yes
  clawvault apikey delete 7c1e2a9b-4d3f-4b8e-9a6c-5f0d1e2c3b4a --yes")]
    Delete {
        /// Key id or label.
        key: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// The key `raw` names: an id as it is, a label through the list of keys.
async fn named(client: &Client, raw: &str) -> Result<(Uuid, String)> {
    let keys = client.list_api_keys().await?;
    if let Ok(id) = Uuid::parse_str(raw) {
        let label = keys.iter().find(|k| k.id == id).map_or_else(|| raw.to_owned(), |k| k.name.clone());
        return Ok((id, label));
    }
    let key =
        one_named(&keys, raw, |k: &ApiKey| (k.id.to_string(), k.name.as_str()), "API key", "clawvault apikey list")?;
    Ok((key.id, key.name.clone()))
}

/// Runs an API key command.
///
/// # Errors
/// Client errors and invalid input.
pub async fn run(global: &Global, cmd: ApiKeyCommand) -> Result<()> {
    let client = context::client(global)?;
    match cmd {
        ApiKeyCommand::Create { name, scopes, expires_in } => {
            let expires_at = deadline(expires_in.as_deref())?;
            let created = client.create_api_key(&NewApiKey { name, scopes, expires_at }).await?;
            if global.json {
                output::json(&created)?;
            } else {
                let k = &created.key;
                output::key_once(&format!("Created API key {} ({}).", k.name, k.id), &created.api_key)?;
            }
        }
        ApiKeyCommand::List => {
            let keys = client.list_api_keys().await?;
            if global.json {
                output::json(&keys)?;
            } else {
                let mut t = Table::new(vec!["NAME", "ID", "PREFIX", "SCOPES", "EXPIRES", "LAST USED"]);
                for k in &keys {
                    let scopes = if k.scopes.is_empty() { "all".to_owned() } else { k.scopes.join(",") };
                    t.row(vec![
                        k.name.clone(),
                        k.id.to_string(),
                        k.key_prefix.clone(),
                        scopes,
                        or_dash(k.expires_at.as_deref().map(short_time).as_deref()),
                        or_dash(k.last_used_at.as_deref().map(short_time).as_deref()),
                    ]);
                }
                print!("{}", t.render());
            }
        }
        ApiKeyCommand::Delete { key, yes } => {
            let (id, label) = named(&client, &key).await?;
            confirm_delete(yes, &label, "API key")?;
            client.delete_api_key(id).await?;
            output::done(
                global.json,
                "deleted",
                id,
                &format!("Deleted API key {label} ({id}); it and its tokens no longer work."),
            )?;
        }
    }
    Ok(())
}
