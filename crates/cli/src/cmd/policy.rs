//! `clawvault policy ...`.

use std::collections::HashMap;

use anyhow::Result;
use clawvault_client::{Client, Conditions, NewPolicy, Policy};
use serde_json::Value;
use uuid::Uuid;

use super::{agent, deadline, user};
use crate::cli::{Global, PolicyCommand, PrincipalArg};
use crate::context;
use crate::exit::Coded;
use crate::output::{self, Table, short_time};

/// `(principal_type, id, how to call it)` for `--agent` or `--user`.
async fn principal(client: &Client, p: &PrincipalArg) -> Result<(&'static str, Uuid, String)> {
    match (&p.agent, &p.user) {
        (Some(a), _) => Ok(("agent", agent::id(client, a).await?, a.clone())),
        (None, Some(u)) => Ok(("user", user::id(client, u).await?, u.clone())),
        (None, None) => Err(Coded::invalid("name the grantee with --agent or --user")),
    }
}

/// Names of the agents and users policies name, where the caller may list them.
async fn principal_names(client: &Client, policies: &[Policy]) -> HashMap<Uuid, String> {
    let mut names = HashMap::new();
    let wants = |kind: &str| policies.iter().any(|p| p.principal_type == kind);
    if wants("agent")
        && let Ok(agents) = client.list_agents().await
    {
        names.extend(agents.into_iter().map(|a| (a.id, a.name)));
    }
    if wants("user")
        && let Ok(users) = client.list_users().await
    {
        names.extend(users.into_iter().map(|u| (u.id, u.name)));
    }
    names
}

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
                let names = principal_names(&client, &policies).await;
                let mut t =
                    Table::new(vec!["ID", "PRINCIPAL", "PATH", "PERMISSIONS", "EFFECT", "CONDITIONS", "EXPIRES"]);
                for p in &policies {
                    let who = names.get(&p.principal_id).cloned().unwrap_or_else(|| p.principal_id.to_string());
                    t.row(vec![
                        p.id.to_string(),
                        format!("{}:{who}", p.principal_type),
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
