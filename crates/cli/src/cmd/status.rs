//! `clawvault status`: which server the CLI talks to, and whether it answers.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::cli::Global;
use crate::context::Target;
use crate::output;

/// `clawvault status`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault status
  clawvault status --profile staging --json

Needs no credentials. Exits with 3 when the server does not answer.")]
pub struct StatusArgs {
    #[command(flatten)]
    pub global: Global,
}

/// Prints the server address, where it came from, and what the server says of itself.
///
/// # Errors
/// An unreachable server (exit code 3), unreadable configuration.
pub async fn run(args: &StatusArgs) -> Result<()> {
    let target = Target::resolve(&args.global)?;
    let health = target.anonymous(&target.address)?.health().await;
    let from = target.address_from.to_string();
    if args.global.json {
        let mut out = json!({
            "address": target.address,
            "address_from": from,
            "profile": target.profile,
            "reachable": health.is_ok(),
        });
        match &health {
            Ok(h) => {
                out["version"] = json!(h.version);
                out["storage"] = json!(h.storage);
                out["sealed"] = json!(h.sealed);
                out["status"] = json!(h.status);
            }
            Err(e) => out["error"] = json!(e.to_string()),
        }
        output::json(&out)?;
    } else {
        let mut rows = vec![("address", target.address.clone()), ("from", from), ("profile", target.profile.clone())];
        match &health {
            Ok(h) => {
                rows.push(("reachable", "yes".to_owned()));
                rows.push(("version", h.version.clone()));
                rows.push(("storage", h.storage.clone().unwrap_or_else(|| "-".to_owned())));
                rows.push(("sealed", if h.sealed { "yes" } else { "no" }.to_owned()));
            }
            Err(_) => rows.push(("reachable", "no".to_owned())),
        }
        print!("{}", output::fields(&rows));
    }
    health.map(|_| ()).map_err(Into::into)
}
