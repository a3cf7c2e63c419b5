//! `clawvault fleet`: which consumer (`run --watch`, `sync`) holds which version of each
//! secret, against the latest: who still runs the old key.

use anyhow::Result;
use clap::Args;

use crate::cli::Global;
use crate::context;
use crate::output::{self, Table};

/// `clawvault fleet`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault fleet
  clawvault fleet --vault prod --path bots/discord
  clawvault fleet --json | jq '.[] | select(.stale)'

STATUS is `current`, `stale` (an older version than the latest) or `gone` (the secret was
deleted); `silent` is added when the consumer has said nothing for ten minutes.")]
pub struct FleetArgs {
    /// Only this vault.
    #[arg(long, value_name = "VAULT")]
    vault: Option<String>,
    /// Only this secret (with --vault).
    #[arg(long, value_name = "PATH", requires = "vault")]
    path: Option<String>,
    #[command(flatten)]
    pub global: Global,
}

/// Runs `fleet`.
///
/// # Errors
/// API errors.
pub async fn run(args: &FleetArgs) -> Result<()> {
    let client = context::client(&args.global)?;
    let rows = client.fleet(args.vault.as_deref(), args.path.as_deref()).await?;
    if args.global.json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "consumer": r.consumer, "host": r.host, "principal_type": r.principal_type,
                    "principal_id": r.principal_id, "vault": r.vault, "vault_id": r.vault_id, "path": r.path,
                    "version": r.version, "latest_version": r.latest_version, "stale": r.stale,
                    "silent": r.silent, "seen_at": r.seen_at,
                })
            })
            .collect();
        return output::json(&rows);
    }
    if rows.is_empty() {
        println!("No consumer has acknowledged a version yet (clawvault run --watch and clawvault sync do).");
        return Ok(());
    }
    let mut t = Table::new(vec!["SECRET", "CONSUMER", "HOST", "HELD", "LATEST", "STATUS", "LAST SEEN"]);
    for r in &rows {
        let mut status = match r.latest_version {
            None => "gone".to_owned(),
            Some(_) if r.stale => "stale".to_owned(),
            Some(_) => "current".to_owned(),
        };
        if r.silent {
            status.push_str(", silent");
        }
        t.row(vec![
            format!("{}/{}", r.vault, r.path),
            r.consumer.clone(),
            r.host.clone(),
            r.version.to_string(),
            r.latest_version.map_or_else(|| "-".to_owned(), |v| v.to_string()),
            status,
            output::short_time(&r.seen_at),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}
