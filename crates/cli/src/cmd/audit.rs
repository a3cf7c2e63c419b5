//! `clawvault audit ...`.

use anyhow::Result;
use clap::Subcommand;
use clawvault_client::AuditQuery;
use std::path::PathBuf;

use crate::cli::Global;
use crate::context;
use crate::exit::{Coded, ERROR};
use crate::output::{self, Table, short_time};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the audit hash chain (on the server, or offline from a data directory).
    #[command(after_help = "\
Examples:
  clawvault audit verify                              # ask the running server
  clawvault audit verify --data-dir /var/lib/clawvault  # offline, read-only
  clawvault audit verify --anchor \"$(cat anchor.txt)\"  # must still extend a kept anchor")]
    Verify {
        /// Verify this data directory directly instead of asking a server.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// An anchor printed earlier by `clawvault audit anchor`: fail unless the chain still
        /// holds that event (catches removal of the newest events together with the head).
        #[arg(long, value_name = "ANCHOR")]
        anchor: Option<String>,
    },
    /// Print the chain head as an anchor (`cva1:…`) to keep where whoever controls the
    /// database cannot reach it; `audit verify --anchor` checks against it later.
    #[command(after_help = "\
Examples:
  clawvault audit anchor > anchor.txt
  clawvault audit anchor --data-dir /var/lib/clawvault")]
    Anchor {
        /// Read this data directory directly instead of asking a server.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// List audit events.
    #[command(after_help = "Examples:\n  clawvault audit list --action secret.read --limit 20")]
    List {
        /// Only this action.
        #[arg(long)]
        action: Option<String>,
        /// Only this actor id.
        #[arg(long)]
        actor: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Page offset.
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
}

/// Runs an audit command.
///
/// # Errors
/// Client errors; a broken chain exits with code 1.
pub async fn run(global: &Global, cmd: AuditCommand) -> Result<()> {
    match cmd {
        AuditCommand::Anchor { data_dir } => {
            let anchor = match data_dir {
                Some(dir) => clawvault_server::anchor_offline(&dir)
                    .await?
                    .map(|a| a.to_string())
                    .ok_or_else(|| Coded::invalid("the audit trail has no event yet: nothing to anchor"))?,
                None => context::client(global)?.audit_anchor().await?.anchor,
            };
            if global.json {
                output::json(&serde_json::json!({ "anchor": anchor }))?;
            } else {
                println!("{anchor}");
            }
        }
        AuditCommand::Verify { data_dir, anchor } => {
            let (valid, checked, broken) = match data_dir {
                Some(dir) => {
                    let (report, _) = clawvault_server::verify_offline(&dir, None, anchor.as_deref()).await?;
                    let broken = report.broken.map(|b| (b.event_id.to_string(), b.seq, b.reason.to_string()));
                    (broken.is_none(), report.checked, broken)
                }
                None => {
                    let r = context::client(global)?.audit_verify(anchor.as_deref()).await?;
                    let broken = r
                        .broken_at_event_id
                        .map(|id| (id.to_string(), r.broken_at_seq.unwrap_or(0), r.broken_reason.unwrap_or_default()));
                    (r.chain_valid, r.events_checked, broken)
                }
            };
            if global.json {
                output::json(&serde_json::json!({
                    "chain_valid": valid,
                    "events_checked": checked,
                    "broken_at_event_id": broken.as_ref().map(|b| &b.0),
                    "broken_at_seq": broken.as_ref().map(|b| b.1),
                    "broken_reason": broken.as_ref().map(|b| &b.2),
                }))?;
            } else if valid {
                println!("Audit chain intact: {checked} events verified.");
            }
            if let Some((id, seq, reason)) = broken {
                return Err(Coded {
                    code: ERROR,
                    message: format!("audit chain broken at event {id} (#{seq}): {reason}"),
                }
                .into());
            }
        }
        AuditCommand::List { action, actor, limit, offset } => {
            let client = context::client(global)?;
            let page = client
                .audit_events(&AuditQuery {
                    action,
                    actor_id: actor,
                    resource_id: None,
                    limit: Some(limit),
                    offset: Some(offset),
                })
                .await?;
            if global.json {
                output::json(&page)?;
            } else {
                let mut t = Table::new(vec!["#", "TIME", "ACTION", "OUTCOME", "ACTOR", "RESOURCE", "FROM"]);
                for e in &page.events {
                    t.row(vec![
                        e.seq.to_string(),
                        short_time(&e.created_at),
                        e.action.clone(),
                        e.outcome.clone(),
                        format!("{}:{}", e.actor_type, e.actor_id.chars().take(8).collect::<String>()),
                        e.resource_id.clone(),
                        e.ip_address.clone().unwrap_or_default(),
                    ]);
                }
                print!("{}", t.render());
                eprintln!("{} of {} events", page.events.len(), page.total);
            }
        }
    }
    Ok(())
}
