//! `clawvault agent ...`.

use std::collections::HashMap;

use anyhow::Result;
use clawvault_client::{Agent, AgentUpdate, ApproveEnrollment, Client, NewAgent};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{confirm_delete, deadline, one_named, or_dash, vault};
use crate::cli::{AgentCommand, Global};
use crate::context;
use crate::output::{self, Table, short_time};

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

fn show(a: &Agent, names: &HashMap<Uuid, String>) -> String {
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
        ("created", format!("{} by {}", short_time(&a.created_at), a.created_by)),
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
                print!("{}", show(&a, &names));
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
        AgentCommand::Deny { pairing_id } => {
            client.deny_enrollment(&pairing_id).await?;
            output::done(global.json, "denied", &pairing_id, &format!("Denied enrollment {pairing_id}."))?;
        }
    }
    Ok(())
}
