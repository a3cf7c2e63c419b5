//! `clawvault audit ...`.

use std::collections::HashMap;

use anyhow::Result;
use clap::Subcommand;
use clawvault_client::AuditQuery;
use std::path::PathBuf;

use crate::cli::Global;
use crate::context;
use crate::exit::{Coded, ERROR};
use crate::output::{self, Table, short_time};
use crate::principals::Principals;
use uuid::Uuid;

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
    /// List audit events, newest first.
    #[command(after_help = "\
Examples:
  clawvault audit list
  clawvault audit list --action secret.read --limit 20
  clawvault audit list --actor discord-bot           # an agent or user by name
  clawvault audit list --actor 0c6f3f3e --oldest-first  # or by the start of its id")]
    List {
        /// Only this action (secret.read, secret.write, agent.create, auth.failure, ...).
        #[arg(long)]
        action: Option<String>,
        /// Only what this user or agent did: a name (`ci`, `agent:ci`), an id, or its start.
        #[arg(long, value_name = "NAME_OR_ID")]
        actor: Option<String>,
        /// Oldest first, in chain order.
        #[arg(long)]
        oldest_first: bool,
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
        AuditCommand::List { action, actor, oldest_first, limit, offset } => {
            let client = context::client(global)?;
            // Audit events are for admins, who may list every user and agent.
            let principals = Principals::load(&client, true).await;
            let vaults = super::vault::names(&client).await;
            let actor_id = actor.map(|a| principals.resolve(&a)).transpose()?.map(|id| id.to_string());
            let page = client
                .audit_events(&AuditQuery {
                    action,
                    actor_id,
                    resource_id: None,
                    limit: Some(limit),
                    offset: Some(offset),
                    newest_first: !oldest_first,
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
                        principals.label(&e.actor_type, &e.actor_id),
                        resource(&e.resource_id, &principals, &vaults),
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

/// A resource by name: a user or agent as `agent:ci`, a secret as `prod/db/main`
/// (its vault by name), anything else as recorded.
fn resource(recorded: &str, principals: &Principals, vaults: &HashMap<Uuid, String>) -> String {
    if let Some(named) = principals.name_of(recorded) {
        return named;
    }
    let (head, rest) = recorded.split_once('/').unwrap_or((recorded, ""));
    match Uuid::parse_str(head).ok().and_then(|id| vaults.get(&id)) {
        Some(vault) if rest.is_empty() => vault.clone(),
        Some(vault) => format!("{vault}/{rest}"),
        None => recorded.to_owned(),
    }
}
