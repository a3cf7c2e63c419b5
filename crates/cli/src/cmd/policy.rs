//! `clawvault policy ...`.

use anyhow::Result;
use clap::{Args, Subcommand};
use clawvault_client::{Client, Conditions, NewPolicy};
use serde_json::Value;
use uuid::Uuid;

use super::{agent, deadline, user};
use crate::cli::Global;
use crate::context;
use crate::exit::Coded;
use crate::output::{self, Table, short_time};
use crate::principals::Principals;

/// Whom a policy names: exactly one of `--agent` and `--user`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PrincipalArg {
    /// The agent (id or name).
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,
    /// The user (id, or name for admins).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Grant (or with --deny, refuse) an agent or a user permissions on paths of a vault.
    #[command(after_help = "\
Examples:
  clawvault policy grant prod --agent discord-bot --path 'discord/**' --permission read
  clawvault policy grant prod --user mia --path 'shared/*' --permission read --permission write
  clawvault policy grant prod --agent ci --path 'deploy/**' --permission read,rotate \\
      --ip 10.0.0.0/8 --expires-in 7d
  clawvault policy grant prod --agent discord-bot --path 'discord/admin/**' --permission read --deny

Patterns match path segments: `*` is one segment, `**` any number (`**` alone: the whole vault).
Permissions: read, use, write, delete, rotate, list, share. A deny policy wins over any allow.")]
    Grant {
        /// Vault name or id.
        vault: String,
        #[command(flatten)]
        principal: PrincipalArg,
        /// Path pattern, e.g. 'api-keys/**'.
        #[arg(long, value_name = "PATTERN")]
        path: String,
        /// A permission; repeat it or separate with commas.
        #[arg(long = "permission", value_name = "PERMISSION", required = true, value_delimiter = ',')]
        permissions: Vec<String>,
        /// Refuse these permissions instead of granting them.
        #[arg(long)]
        deny: bool,
        /// Only from this client address range (CIDR); repeat for more.
        #[arg(long = "ip", value_name = "CIDR")]
        ips: Vec<String>,
        /// The policy lapses after this long (e.g. 12h, 7d).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// List a vault's policies (vault owners and admins).
    #[command(after_help = "Examples:\n  clawvault policy list prod\n  clawvault policy list prod --json")]
    List {
        /// Vault name or id.
        vault: String,
    },
    /// Delete a policy; it stops applying on the next request.
    #[command(after_help = "Examples:\n  clawvault policy revoke prod 9d2c7a4e-1b3f-4e8a-b6c5-0f1e2d3c4b5a")]
    Revoke {
        /// Vault name or id.
        vault: String,
        /// Policy id (from `clawvault policy list`).
        policy_id: String,
    },
}

/// `(principal_type, id, how to call it)` for `--agent` or `--user`.
async fn principal(client: &Client, p: &PrincipalArg) -> Result<(&'static str, Uuid, String)> {
    match (&p.agent, &p.user) {
        (Some(a), _) => Ok(("agent", agent::id(client, a).await?, a.clone())),
        (None, Some(u)) => Ok(("user", user::id(client, u).await?, u.clone())),
        (None, None) => Err(Coded::invalid("name the grantee with --agent or --user")),
    }
}

/// Names of the agents and users policies name, where the caller may list them.
/// `ip 10.0.0.0/8; 09:00-17:00 mon,tue UTC`, or `-`.
fn conditions(c: &Value) -> String {
    let Some(obj) = c.as_object().filter(|o| !o.is_empty()) else {
        return "-".to_owned();
    };
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let list =
        |v: &Value| v.as_array().map_or_else(|| v.to_string(), |a| a.iter().map(text).collect::<Vec<_>>().join(","));
    obj.iter()
        .map(|(k, v)| match k.as_str() {
            "ip_allowlist" => format!("ip {}", list(v)),
            "time_window" => {
                format!("{}-{} {} {}", text(&v["start"]), text(&v["end"]), list(&v["days"]), text(&v["tz"]))
            }
            _ => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Runs a policy command.
///
/// # Errors
/// Client errors and invalid input.
pub async fn run(global: &Global, cmd: PolicyCommand) -> Result<()> {
    let client = context::client(global)?;
    match cmd {
        PolicyCommand::Grant { vault, principal: who, path, permissions, deny, ips, expires_in } => {
            let (kind, principal_id, label) = principal(&client, &who).await?;
            let new = NewPolicy {
                principal_type: kind.to_owned(),
                principal_id,
                secret_path_pattern: path,
                permissions,
                conditions: Conditions { ip_allowlist: (!ips.is_empty()).then_some(ips), time_window: None },
                expires_at: deadline(expires_in.as_deref())?,
                effect: Some(if deny { "deny" } else { "allow" }.to_owned()),
            };
            let p = client.create_policy(&vault, &new).await?;
            if global.json {
                output::json(&p)?;
            } else {
                let verb = if deny { "Denied" } else { "Granted" };
                let mut extra = String::new();
                if let Some(at) = &p.expires_at {
                    extra.push_str(&format!(" until {}", short_time(at)));
                }
                if conditions(&p.conditions) != "-" {
                    extra.push_str(&format!(" when {}", conditions(&p.conditions)));
                }
                println!(
                    "{verb} {kind} {label} {} on {vault}/{}{extra} (policy {}).",
                    p.permissions.join(", "),
                    p.secret_path_pattern,
                    p.id
                );
            }
        }
        PolicyCommand::List { vault } => {
            let policies = client.list_policies(&vault).await?;
            if global.json {
                output::json(&policies)?;
            } else {
                let names = Principals::load(&client, policies.iter().any(|p| p.principal_type == "user")).await;
                let mut t =
                    Table::new(vec!["ID", "PRINCIPAL", "PATH", "PERMISSIONS", "EFFECT", "CONDITIONS", "EXPIRES"]);
                for p in &policies {
                    t.row(vec![
                        p.id.to_string(),
                        names.label(&p.principal_type, &p.principal_id.to_string()),
                        p.secret_path_pattern.clone(),
                        p.permissions.join(","),
                        p.effect.clone(),
                        conditions(&p.conditions),
                        p.expires_at.as_deref().map_or_else(|| "-".to_owned(), short_time),
                    ]);
                }
                print!("{}", t.render());
            }
        }
        PolicyCommand::Revoke { vault, policy_id } => {
            let id = Uuid::parse_str(&policy_id).map_err(|_| {
                Coded::invalid(format!("{policy_id:?} is not a policy id: see `clawvault policy list {vault}`"))
            })?;
            client.delete_policy(&vault, id).await?;
            output::done(
                global.json,
                "revoked",
                id,
                &format!("Revoked policy {id} in vault {vault}; it no longer applies."),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_conditions() {
        assert_eq!(conditions(&Value::Null), "-");
        assert_eq!(conditions(&serde_json::json!({})), "-");
        let c = serde_json::json!({
            "ip_allowlist": ["10.0.0.0/8", "::1/128"],
            "time_window": { "start": "09:00", "end": "17:00", "days": ["mon", "tue"], "tz": "UTC" }
        });
        assert_eq!(conditions(&c), "ip 10.0.0.0/8,::1/128; 09:00-17:00 mon,tue UTC");
    }
}
