//! `clawvault auth role ...`: login roles of the Vault-compatible API (admins).

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use clawvault_client::NewRole;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{agent, confirm_delete, parse_duration};
use crate::cli::Global;
use crate::context;
use crate::exit::Coded;
use crate::output::{self, Table, short_time};

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Login roles: which Kubernetes service accounts, JWTs or AppRoles log in through the
    /// Vault-compatible API, and as which agent.
    #[command(
        subcommand,
        after_help = "\
Examples:
  clawvault auth role create eso --method kubernetes --agent eso \\
      --service-account external-secrets --namespace external-secrets
  clawvault auth role list"
    )]
    Role(RoleCommand),
}

/// What a Kubernetes or JWT login must show.
#[derive(Debug, Args)]
pub struct Bindings {
    /// kubernetes: a service account allowed to log in; repeat for more ('*': any).
    #[arg(long = "service-account", value_name = "NAME")]
    service_accounts: Vec<String>,
    /// kubernetes: a namespace allowed; repeat for more ('*': any).
    #[arg(long = "namespace", value_name = "NAMESPACE")]
    namespaces: Vec<String>,
    /// kubernetes: the audience the token must carry; jwt: an allowed audience (repeat).
    #[arg(long = "audience", value_name = "AUDIENCE")]
    audiences: Vec<String>,
    /// jwt: the subject the token must carry.
    #[arg(long, value_name = "SUB")]
    subject: Option<String>,
    /// jwt: a claim the token must carry, as NAME=VALUE; repeat (values of one name are
    /// alternatives).
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    claims: Vec<String>,
}

/// `auth role create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The role's name: the `role` a login names.
    name: String,
    /// kubernetes, jwt or approle.
    #[arg(long, value_name = "METHOD")]
    method: String,
    /// The agent (id or name) a login becomes.
    #[arg(long, value_name = "AGENT")]
    agent: String,
    #[command(flatten)]
    bindings: Bindings,
    /// Lifetime of a login's token (e.g. 10m; 1m to 1h; default 10m).
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
    /// approle: write the secret_id to this new file (mode 0600) instead of printing it.
    #[arg(long, value_name = "FILE")]
    secret_id_out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a login role mapped to an agent: a login gets that agent's short-lived token.
    #[command(after_help = "\
Examples:
  clawvault auth role create eso --method kubernetes --agent eso \\
      --service-account external-secrets --namespace external-secrets
  clawvault auth role create ci --method jwt --agent deployer \\
      --audience clawvault --claim repository=org/app --ttl 5m
  clawvault auth role create backup --method approle --agent backup --secret-id-out backup.secret

An AppRole's role_id is the role's id; its secret_id is shown once (or written to
--secret-id-out with mode 0600). The server verifies Kubernetes and JWT tokens against the keys
its kubernetes_jwks and jwt_jwks settings name.")]
    Create(Box<CreateArgs>),
    /// List the login roles.
    #[command(after_help = "Examples:\n  clawvault auth role list\n  clawvault auth role list --json")]
    List,
    /// Delete a login role: it logs in no more (tokens it gave live out their short lifetime).
    #[command(after_help = "Examples:\n  clawvault auth role delete 9d2c7a4e-1b3f-4e8a-b6c5-0f1e2d3c4b5a --yes")]
    Delete {
        /// Role id (from `clawvault auth role list`).
        role_id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// The bindings a method takes, as the server wants them.
fn bindings_of(method: &str, b: &Bindings) -> Result<Value> {
    let mut out = Map::new();
    match method {
        "kubernetes" => {
            if b.service_accounts.is_empty() || b.namespaces.is_empty() {
                return Err(Coded::invalid(
                    "a kubernetes role needs --service-account and --namespace (use '*' for any)",
                ));
            }
            out.insert("bound_service_account_names".into(), json!(b.service_accounts));
            out.insert("bound_service_account_namespaces".into(), json!(b.namespaces));
            match b.audiences.as_slice() {
                [] => {}
                [one] => {
                    out.insert("audience".into(), json!(one));
                }
                _ => return Err(Coded::invalid("a kubernetes role takes one --audience")),
            }
        }
        "jwt" => {
            if b.audiences.is_empty() {
                return Err(Coded::invalid("a jwt role needs at least one --audience"));
            }
            if b.subject.is_none() && b.claims.is_empty() {
                return Err(Coded::invalid(
                    "a jwt role needs --subject or --claim besides --audience: an audience alone admits every token of its issuer",
                ));
            }
            out.insert("bound_audiences".into(), json!(b.audiences));
            if let Some(sub) = &b.subject {
                out.insert("bound_subject".into(), json!(sub));
            }
            let mut claims: Map<String, Value> = Map::new();
            for pair in &b.claims {
                let (name, value) = pair
                    .split_once('=')
                    .ok_or_else(|| Coded::invalid(format!("--claim {pair:?} must be NAME=VALUE")))?;
                let entry = claims.entry(name.to_owned()).or_insert_with(|| json!([]));
                if let Value::Array(values) = entry {
                    values.push(json!(value));
                }
            }
            if !claims.is_empty() {
                out.insert("bound_claims".into(), Value::Object(claims));
            }
        }
        "approle" => {
            if !(b.service_accounts.is_empty()
                && b.namespaces.is_empty()
                && b.audiences.is_empty()
                && b.claims.is_empty())
                || b.subject.is_some()
            {
                return Err(Coded::invalid("an approle role takes no bindings"));
            }
        }
        other => return Err(Coded::invalid(format!("--method {other:?}: use kubernetes, jwt or approle"))),
    }
    Ok(Value::Object(out))
}

/// The new file the secret_id goes to, created before the role so that a file that cannot be
/// made never leaves a role whose secret was lost.
fn secret_file(path: &PathBuf) -> Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| {
        Coded::invalid(format!("cannot create {} for the secret_id ({e}): give a new file", path.display()))
    })
}

fn write_secret(mut file: std::fs::File, secret: &str) -> Result<()> {
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(())
}

/// Runs an auth command.
///
/// # Errors
/// Client errors and invalid input.
pub async fn run(global: &Global, cmd: AuthCommand) -> Result<()> {
    let client = context::client(global)?;
    let AuthCommand::Role(cmd) = cmd;
    match cmd {
        RoleCommand::Create(args) => {
            let CreateArgs { name, method, agent: agent_ref, bindings, ttl, secret_id_out } = *args;
            let bindings = bindings_of(&method, &bindings)?;
            if secret_id_out.is_some() && method != "approle" {
                return Err(Coded::invalid("--secret-id-out is for approle roles"));
            }
            let token_ttl_seconds = ttl.as_deref().map(parse_duration).transpose()?.map(|d| d.whole_seconds());
            let agent_id = agent::id(&client, &agent_ref).await?;
            let file = secret_id_out.as_ref().map(secret_file).transpose()?;
            let created =
                match client.create_role(&NewRole { method, name, agent_id, bindings, token_ttl_seconds }).await {
                    Ok(c) => c,
                    Err(e) => {
                        if let Some(path) = &secret_id_out {
                            let _ = std::fs::remove_file(path);
                        }
                        return Err(e.into());
                    }
                };
            if let (Some(file), Some(secret)) = (file, &created.secret_id) {
                write_secret(file, secret)?;
            }
            if global.json {
                let mut shown = serde_json::to_value(&created)?;
                if secret_id_out.is_some()
                    && let Some(obj) = shown.as_object_mut()
                {
                    obj.remove("secret_id");
                }
                output::json(&shown)?;
            } else {
                let r = &created.role;
                println!(
                    "Created {} role {} ({}): logins become agent {agent_ref} for {} s.",
                    r.method,
                    output::printable(&r.name),
                    r.id,
                    r.token_ttl_seconds
                );
                match (&created.secret_id, &secret_id_out) {
                    (Some(_), Some(path)) => println!("role_id: {}\nsecret_id written to {}", r.id, path.display()),
                    (Some(secret), None) => {
                        println!("role_id: {}\nsecret_id: {secret}\nThe secret_id is shown once: keep it now.", r.id);
                    }
                    _ => {}
                }
            }
        }
        RoleCommand::List => {
            let roles = client.list_roles().await?;
            if global.json {
                output::json(&roles)?;
            } else {
                let mut t = Table::new(vec!["ID", "METHOD", "NAME", "AGENT", "BINDINGS", "TTL", "CREATED"]);
                for r in &roles {
                    t.row(vec![
                        r.id.to_string(),
                        r.method.clone(),
                        r.name.clone(),
                        r.agent_id.to_string(),
                        r.bindings.to_string(),
                        format!("{}s", r.token_ttl_seconds),
                        short_time(&r.created_at),
                    ]);
                }
                print!("{}", t.render());
            }
        }
        RoleCommand::Delete { role_id, yes } => {
            let id = Uuid::parse_str(&role_id)
                .map_err(|_| Coded::invalid(format!("{role_id:?} is not a role id: see `clawvault auth role list`")))?;
            confirm_delete(yes, &role_id, "login role")?;
            client.delete_role(id).await?;
            output::done(global.json, "deleted", id, &format!("Deleted login role {id}; it logs in no more."))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bindings(sa: &[&str], ns: &[&str], aud: &[&str], claims: &[&str]) -> Bindings {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        Bindings {
            service_accounts: own(sa),
            namespaces: own(ns),
            audiences: own(aud),
            subject: None,
            claims: own(claims),
        }
    }

    #[test]
    fn bindings_are_built_per_method() {
        let k8s = bindings_of("kubernetes", &bindings(&["eso"], &["ns"], &[], &[])).unwrap();
        assert_eq!(k8s, json!({"bound_service_account_names": ["eso"], "bound_service_account_namespaces": ["ns"]}));
        assert!(bindings_of("kubernetes", &bindings(&["eso"], &[], &[], &[])).is_err());
        let jwt = bindings_of("jwt", &bindings(&[], &[], &["cv"], &["repo=a", "repo=b"])).unwrap();
        assert_eq!(jwt, json!({"bound_audiences": ["cv"], "bound_claims": {"repo": ["a", "b"]}}));
        assert!(bindings_of("jwt", &bindings(&[], &[], &[], &[])).is_err(), "an audience is required");
        assert!(bindings_of("jwt", &bindings(&[], &[], &["cv"], &[])).is_err(), "and a subject or a claim");
        assert!(bindings_of("jwt", &bindings(&[], &[], &["cv"], &["novalue"])).is_err());
        assert!(bindings_of("approle", &bindings(&["x"], &[], &[], &[])).is_err());
        assert!(bindings_of("ldap", &bindings(&[], &[], &[], &[])).is_err());
    }
}
