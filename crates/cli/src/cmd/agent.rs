//! `clawvault agent ...`.

use std::collections::HashMap;

use anyhow::Result;
use clap::Subcommand;
use clawvault_client::{Agent, AgentUpdate, ApproveEnrollment, Client, NewAgent};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{confirm_delete, deadline, one_named, or_dash, vault};
use crate::cli::Global;
use crate::context;
use crate::output::{self, Table, short_time};
use crate::principals::Principals;

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an agent; its key is printed once.
    #[command(after_help = "\
Examples:
  clawvault agent create discord-bot --description 'posts release notes' --vault prod
  clawvault agent create ci --vault prod --vault staging --ttl 900 --expires-in 30d
  clawvault agent create ci --json | jq -r .api_key > ci.key   # the key in a file, not on screen

The agent can read nothing until a policy grants it access: see `clawvault policy grant --help`.")]
    Create {
        /// Name (need not be unique; ids are).
        name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Bind the agent to this vault (name or id); repeat for more. Unbound agents reach any
        /// vault a policy opens to them.
        #[arg(long = "vault", value_name = "VAULT")]
        vaults: Vec<String>,
        /// Lifetime of its access tokens, in seconds (up to 86400; default: the server's).
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<i64>,
        /// The agent stops working after this long (e.g. 12h, 30d).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// List the agents you manage (admins: all), never their keys.
    #[command(after_help = "Examples:\n  clawvault agent list\n  clawvault agent list --json | jq -r '.[].name'")]
    List,
    /// Show one agent.
    #[command(
        after_help = "Examples:\n  clawvault agent show discord-bot\n  clawvault agent show 0c6f3f3e-5d7c-4f0e-9a57-8f0d3c8e2b11 --json"
    )]
    Show {
        /// Agent id or name.
        agent: String,
    },
    /// Replace an agent's key: the old key and its tokens stop working at once. The new key is
    /// printed once.
    #[command(
        after_help = "Examples:\n  clawvault agent rotate-key discord-bot\n  clawvault agent rotate-key ci --json | jq -r .api_key > ci.key"
    )]
    RotateKey {
        /// Agent id or name.
        agent: String,
    },
    /// Deactivate an agent: its key and tokens are refused from the next request on.
    #[command(after_help = "Examples:\n  clawvault agent deactivate discord-bot")]
    Deactivate {
        /// Agent id or name.
        agent: String,
    },
    /// Reactivate an agent: its key works again (tokens issued before stay revoked).
    #[command(after_help = "Examples:\n  clawvault agent activate discord-bot")]
    Activate {
        /// Agent id or name.
        agent: String,
    },
    /// Delete an agent and its policies; its tokens stop working at once.
    #[command(after_help = "Examples:\n  clawvault agent delete discord-bot --yes")]
    Delete {
        /// Agent id or name.
        agent: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Ask to be enrolled as an agent, and wait for a user to approve (run where the agent runs).
    Enroll(super::enroll::EnrollArgs),
    /// List pending enrollment requests (admins).
    #[command(after_help = "Examples:\n  clawvault agent pending\n  clawvault agent pending --json")]
    Pending,
    /// Approve an enrollment request (admins): the agent receives its key on its next poll.
    #[command(after_help = "\
Examples:
  clawvault agent pending              # compare the fingerprint with the agent's
  clawvault agent approve 4b8e0c1a-2f6d-4c1b-9e3a-7d5f2a9c8b10 --vault prod --ttl 900")]
    Approve {
        /// The pairing id from `clawvault agent pending`.
        pairing_id: String,
        /// Bind the new agent to this vault (name or id); repeat for more.
        #[arg(long = "vault", value_name = "VAULT")]
        vaults: Vec<String>,
        /// Lifetime of its access tokens, in seconds (up to 86400).
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<i64>,
    },
    /// Deny an enrollment request (admins).
    #[command(after_help = "Examples:\n  clawvault agent deny 4b8e0c1a-2f6d-4c1b-9e3a-7d5f2a9c8b10")]
    Deny {
        /// The pairing id from `clawvault agent pending`.
        pairing_id: String,
    },
}

/// The agent `raw` names: an id directly, a name through the list of agents.
///
/// # Errors
/// Not found, an ambiguous name, client errors.
pub async fn find(client: &Client, raw: &str) -> Result<Agent> {
    if let Ok(id) = Uuid::parse_str(raw) {
        return Ok(client.get_agent(id).await?);
    }
    let agents = client.list_agents().await?;
    Ok(one_named(&agents, raw, |a| (a.id.to_string(), a.name.as_str()), "agent", "clawvault agent list")?.clone())
}

/// The id of the agent `raw` names (an id is taken as it is, without a request).
///
/// # Errors
/// As [`find`].
pub async fn id(client: &Client, raw: &str) -> Result<Uuid> {
    match Uuid::parse_str(raw) {
        Ok(id) => Ok(id),
        Err(_) => Ok(find(client, raw).await?.id),
    }
}

fn status(a: &Agent) -> &'static str {
    let expired = a
        .expires_at
        .as_deref()
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .is_some_and(|t| t <= OffsetDateTime::now_utc());
    if !a.is_active {
        "inactive"
    } else if expired {
        "expired"
    } else {
        "active"
    }
}

/// The vaults an agent is bound to, by name where known.
fn bound_vaults(a: &Agent, names: &HashMap<Uuid, String>) -> String {
    if a.vault_ids.is_empty() {
        return "any".to_owned();
    }
    a.vault_ids.iter().map(|id| names.get(id).cloned().unwrap_or_else(|| id.to_string())).collect::<Vec<_>>().join(",")
}

fn key_prefix(a: &Agent) -> String {
    a.api_key_prefix.as_deref().map_or_else(|| "-".to_owned(), |p| format!("{p}…"))
}

async fn vault_names(client: &Client, agents: &[Agent]) -> HashMap<Uuid, String> {
    if agents.iter().all(|a| a.vault_ids.is_empty()) {
        return HashMap::new();
    }
    vault::names(client).await
}

fn show(a: &Agent, names: &HashMap<Uuid, String>, creator: &str) -> String {
    let time = |t: Option<&str>, none: &str| t.map_or_else(|| none.to_owned(), short_time);
    let mut vaults = bound_vaults(a, names);
    if a.vault_ids.is_empty() {
        vaults.push_str(" (wherever a policy grants it access)");
    }
    output::fields(&[
        ("name", a.name.clone()),
        ("id", a.id.to_string()),
        ("status", status(a).to_owned()),
        ("description", or_dash(Some(&a.description))),
        ("key", key_prefix(a)),
        ("vaults", vaults),
        ("token ttl", a.token_ttl_seconds.map_or_else(|| "server default".to_owned(), |s| format!("{s} s"))),
        ("expires", time(a.expires_at.as_deref(), "never")),
        ("last active", time(a.last_active_at.as_deref(), "never")),
        ("created", format!("{} by {creator}", short_time(&a.created_at))),
        ("scopes", or_dash(Some(&a.scopes.join(",")))),
    ])
}

async fn set_active(client: &Client, raw: &str, active: bool) -> Result<Agent> {
    let id = id(client, raw).await?;
    Ok(client.update_agent(id, &AgentUpdate { is_active: Some(active), ..AgentUpdate::default() }).await?)
}

/// Runs an agent command.
///
/// # Errors
/// Client errors and invalid input.
pub async fn run(global: &Global, cmd: AgentCommand) -> Result<()> {
    if let AgentCommand::Enroll(args) = cmd {
        return super::enroll::run(global, args).await;
    }
    let client = context::client(global)?;
    match cmd {
        AgentCommand::Create { name, description, vaults, ttl, expires_in } => {
            let mut new = NewAgent::new(&name);
            new.description = description;
            new.expires_at = deadline(expires_in.as_deref())?;
            new.token_ttl_seconds = ttl;
            new.vault_ids = vault::ids(&client, &vaults).await?;
            let created = client.create_agent(&new).await?;
            if global.json {
                output::json(&created)?;
            } else {
                let a = &created.agent;
                output::key_once(&format!("Created agent {} ({}).", a.name, a.id), &created.api_key)?;
                eprintln!(
                    "It can read nothing yet: clawvault policy grant {} --agent {} --path 'PATTERN' --permission read",
                    vaults.first().map_or("VAULT", String::as_str),
                    a.id
                );
            }
        }
        AgentCommand::List => {
            let agents = client.list_agents().await?;
            if global.json {
                output::json(&agents)?;
            } else {
                let names = vault_names(&client, &agents).await;
                let mut t = Table::new(vec!["NAME", "ID", "STATUS", "KEY", "VAULTS", "LAST ACTIVE", "CREATED"]);
                for a in &agents {
                    t.row(vec![
                        a.name.clone(),
                        a.id.to_string(),
                        status(a).to_owned(),
                        key_prefix(a),
                        bound_vaults(a, &names),
                        a.last_active_at.as_deref().map_or_else(|| "never".to_owned(), short_time),
                        short_time(&a.created_at),
                    ]);
                }
                print!("{}", t.render());
            }
        }
        AgentCommand::Show { agent } => {
            let a = find(&client, &agent).await?;
            if global.json {
                output::json(&a)?;
            } else {
                let names = vault_names(&client, std::slice::from_ref(&a)).await;
                let creator = Principals::load(&client, true).await.label("user", &a.created_by.to_string());
                print!("{}", show(&a, &names, &creator));
            }
        }
        AgentCommand::RotateKey { agent } => {
            let a = find(&client, &agent).await?;
            let rotated = client.rotate_agent_key(a.id).await?;
            if global.json {
                output::json(&rotated)?;
            } else {
                let heading =
                    format!("New key for agent {} ({}); the old key and its tokens no longer work.", a.name, a.id);
                output::key_once(&heading, &rotated.api_key)?;
            }
        }
        AgentCommand::Deactivate { agent } => {
            let a = set_active(&client, &agent, false).await?;
            if global.json {
                output::json(&a)?;
            } else {
                println!(
                    "Deactivated agent {} ({}): its key and tokens are refused from now on.",
                    output::printable(&a.name),
                    a.id
                );
            }
        }
        AgentCommand::Activate { agent } => {
            let a = set_active(&client, &agent, true).await?;
            if global.json {
                output::json(&a)?;
            } else {
                println!("Activated agent {} ({}): its key works again.", output::printable(&a.name), a.id);
            }
        }
        AgentCommand::Delete { agent, yes } => {
            let id = id(&client, &agent).await?;
            confirm_delete(yes, &agent, "agent")?;
            client.delete_agent(id).await?;
            output::done(
                global.json,
                "deleted",
                id,
                &format!("Deleted agent {agent} ({id}) and its policies; its tokens no longer work."),
            )?;
        }
        AgentCommand::Pending => {
            let pending = client.list_enrollments().await?;
            if global.json {
                output::json(&pending)?;
            } else if pending.is_empty() {
                println!("No pending enrollment requests (an agent asks with `clawvault agent enroll NAME`).");
            } else {
                let mut t =
                    Table::new(vec!["PAIRING ID", "NAME", "FINGERPRINT", "REQUESTED", "EXPIRES", "DESCRIPTION"]);
                for e in &pending {
                    t.row(vec![
                        e.pairing_id.to_string(),
                        e.name.clone(),
                        e.fingerprint.clone(),
                        short_time(&e.created_at),
                        short_time(&e.expires_at),
                        e.description.clone(),
                    ]);
                }
                print!("{}", t.render());
            }
        }
        AgentCommand::Approve { pairing_id, vaults, ttl } => {
            let approve = ApproveEnrollment { vault_ids: vault::ids(&client, &vaults).await?, token_ttl_seconds: ttl };
            let a = client.approve_enrollment(&pairing_id, &approve).await?;
            if global.json {
                output::json(&a)?;
            } else {
                println!(
                    "Approved enrollment {pairing_id}: agent {} ({}) created; it receives its key on its next poll.",
                    a.name, a.id
                );
            }
        }
        AgentCommand::Enroll(_) => {}
        AgentCommand::Deny { pairing_id } => {
            client.deny_enrollment(&pairing_id).await?;
            output::done(global.json, "denied", &pairing_id, &format!("Denied enrollment {pairing_id}."))?;
        }
    }
    Ok(())
}
