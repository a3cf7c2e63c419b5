//! `clawvault user ...`.

use std::io::IsTerminal;

use anyhow::{Context, Result};
use clap::Subcommand;
use clawvault_client::Client;
use uuid::Uuid;

use super::{confirm_delete, one_named};
use crate::cli::Global;
use crate::context;
use crate::exit::Coded;
use crate::output::{self, Table, short_time};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (admins); their API key is printed once.
    #[command(after_help = "\
Examples:
  clawvault user create mia                # a member: her own vaults and what policies allow her
  clawvault user create ops-lead --role admin
  clawvault user create mia --json | jq -r .api_key | ssh mia@host 'cat > ~/.clawvault-key'")]
    Create {
        /// Name (unique).
        name: String,
        /// admin or member.
        #[arg(long, default_value = "member", value_parser = ["admin", "member"])]
        role: String,
    },
    /// List users (admins).
    #[command(after_help = "Examples:\n  clawvault user list\n  clawvault user list --json")]
    List,
    /// Delete a user with their keys and policies (admins; never the last admin).
    #[command(after_help = "\
Examples:
  clawvault user delete mia --yes

Deleting yourself always asks, even with --yes, and only at a terminal: your key stops working
at once and the agents you created are deactivated.")]
    Delete {
        /// User id or name.
        user: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// The id of the user `raw` names: an id as it is, a name through the list of users
/// (which only admins may read).
///
/// # Errors
/// Not found, client errors.
pub async fn id(client: &Client, raw: &str) -> Result<Uuid> {
    if let Ok(id) = Uuid::parse_str(raw) {
        return Ok(id);
    }
    let users = client.list_users().await.context("only admins can name users; give the user's id instead")?;
    Ok(one_named(&users, raw, |u| (u.id.to_string(), u.name.as_str()), "user", "clawvault user list")?.id)
}

/// Runs a user command.
///
/// # Errors
/// Client errors and invalid input.
pub async fn run(global: &Global, cmd: UserCommand) -> Result<()> {
    let client = context::client(global)?;
    match cmd {
        UserCommand::Create { name, role } => {
            let created = client.create_user(&name, &role).await?;
            if global.json {
                output::json(&created)?;
            } else {
                let u = &created.user;
                output::key_once(&format!("Created {} {} ({}).", u.role, u.name, u.id), &created.api_key)?;
                eprintln!(
                    "Hand it over privately; they save it with `clawvault login --address {}`.",
                    client.address()
                );
            }
        }
        UserCommand::List => {
            let users = client.list_users().await.context("only admins can name users; give the user's id instead")?;
            if global.json {
                output::json(&users)?;
            } else {
                let mut t = Table::new(vec!["NAME", "ID", "ROLE", "CREATED"]);
                for u in &users {
                    t.row(vec![u.name.clone(), u.id.to_string(), u.role.clone(), short_time(&u.created_at)]);
                }
                print!("{}", t.render());
            }
        }
        UserCommand::Delete { user, yes } => {
            let id = id(&client, &user).await?;
            // Fails closed: without knowing who the caller is, no deletion skips the question.
            let me = client.whoami().await?;
            if me.kind == "user" && me.id == id {
                confirm_deleting_yourself(&me.name)?;
            } else {
                confirm_delete(yes, &user, "user")?;
            }
            let agents = client.delete_user(id).await?;
            if global.json {
                output::json(&serde_json::json!({ "deleted": id, "deactivated_agents": agents }))?;
            } else {
                println!("Deleted {user} ({id}) with their keys and policies; their tokens no longer work.");
                if !agents.is_empty() {
                    println!("Deactivated the {} agent(s) they created:", agents.len());
                    for a in &agents {
                        println!("  {} ({})", output::printable(&a.name), a.id);
                    }
                    println!("An admin can reactivate one with `clawvault agent activate ID`.");
                }
            }
        }
    }
    Ok(())
}

/// Deleting the caller's own user: asked at a terminal whatever `--yes` says, since the key in
/// use stops working and the agents the caller created stop with it.
fn confirm_deleting_yourself(name: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(Coded::invalid(format!(
            "{name:?} is you: deleting yourself is confirmed only at a terminal (your key stops working and \
             the agents you created are deactivated); or have another admin run `clawvault user delete {name}`"
        )));
    }
    eprintln!("{name:?} is you: your key stops working at once and the agents you created are deactivated.");
    super::typed_confirmation("Type your name to delete yourself: ", name)
}
