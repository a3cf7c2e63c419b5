//! `clawvault k8s ...`: manifests for the External Secrets Operator's `vault` provider pointed
//! at clawvault's Vault-compatible API, printed for `kubectl apply -f -`, and the login role a
//! store's Kubernetes auth needs.

use anyhow::Result;
use clap::{Args, Subcommand};
use clawvault_client::NewRole;
use serde_json::{Map, Value, json};

use super::{agent, parse_duration};
use crate::cli::Global;
use crate::context::{self, Target};
use crate::exit::Coded;
use crate::output;
use crate::yaml;

/// The API group and version of ESO's resources.
const ESO_API: &str = "external-secrets.io/v1";

#[derive(Debug, Subcommand)]
pub enum K8sCommand {
    /// Print a SecretStore (or ClusterSecretStore) whose `vault` provider reads a vault.
    #[command(after_help = "\
Examples:
  clawvault k8s secret-store --vault prod --auth kubernetes --role eso | kubectl apply -f -
  clawvault k8s secret-store --vault prod --auth token --token-secret clawvault-token
  clawvault k8s secret-store --cluster --vault prod --auth jwt --role eso \\
      --service-account eso --service-account-namespace external-secrets

--auth kubernetes logs in with ESO's service account (or --service-account) under a role that
`clawvault k8s role` creates; --auth token reads a clawvault token or agent key from a Secret.")]
    SecretStore(Box<StoreArgs>),
    /// Print an ExternalSecret that syncs one field of a secret into a Kubernetes Secret.
    #[command(after_help = "\
Examples:
  clawvault k8s external-secret --name discord-token --key bots/discord | kubectl apply -f -
  clawvault k8s external-secret --name db --key apps/db --property password --refresh 15m

The field defaults to `credential`, which is how a secret that is not a JSON object reads
through the Vault API; for a JSON secret (written through the Vault API) name one of its keys.")]
    ExternalSecret(Box<ExternalSecretArgs>),
    /// Create the login role a store's Kubernetes auth uses (admins).
    #[command(after_help = "\
Examples:
  clawvault k8s role eso --agent eso --service-account external-secrets --namespace external-secrets")]
    Role(RoleArgs),
}

/// `k8s secret-store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store's name.
    #[arg(long, default_value = "clawvault")]
    name: String,
    /// The store's namespace (SecretStore only).
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// A ClusterSecretStore, usable from every namespace.
    #[arg(long)]
    cluster: bool,
    /// The vault the store reads (the Vault API's mount).
    #[arg(long, value_name = "VAULT")]
    vault: String,
    /// The server as pods reach it (default: the address this CLI uses).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// token, kubernetes or jwt.
    #[arg(long, default_value = "kubernetes")]
    auth: String,
    /// kubernetes and jwt: the login role.
    #[arg(long, value_name = "ROLE")]
    role: Option<String>,
    /// kubernetes: the service account to log in as (default: ESO's own); jwt: the account
    /// whose token is requested (required).
    #[arg(long, value_name = "NAME")]
    service_account: Option<String>,
    /// The namespace of --service-account (required with --cluster: a ClusterSecretStore
    /// serves every namespace).
    #[arg(long, value_name = "NAMESPACE")]
    service_account_namespace: Option<String>,
    /// jwt: the audience of the requested token.
    #[arg(long, default_value = "clawvault")]
    audience: String,
    /// token: the Secret holding the token or key.
    #[arg(long, default_value = "clawvault-token")]
    token_secret: String,
    /// token: the key in that Secret.
    #[arg(long, default_value = "token")]
    token_key: String,
}

/// `k8s external-secret`.
#[derive(Debug, Args)]
pub struct ExternalSecretArgs {
    /// The ExternalSecret's name, also the Kubernetes Secret's (unless --target).
    #[arg(long)]
    name: String,
    /// The secret's path in the store's vault.
    #[arg(long, value_name = "PATH")]
    key: String,
    /// The field to take.
    #[arg(long, value_name = "FIELD", default_value = "credential")]
    property: String,
    /// The key in the Kubernetes Secret (default: the field).
    #[arg(long, value_name = "KEY")]
    secret_key: Option<String>,
    /// The Kubernetes Secret to write (default: --name).
    #[arg(long, value_name = "NAME")]
    target: Option<String>,
    /// The store to read through.
    #[arg(long, default_value = "clawvault")]
    store: String,
    /// The store is a ClusterSecretStore.
    #[arg(long)]
    cluster_store: bool,
    /// The namespace.
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// How often ESO reads again (e.g. 1h, 15m).
    #[arg(long, default_value = "1h")]
    refresh: String,
}

/// `k8s role`.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The role's name (the store's --role).
    name: String,
    /// The agent (id or name) the store logs in as: its policies are what it may read.
    #[arg(long, value_name = "AGENT")]
    agent: String,
    /// The service account allowed; repeat for more.
    #[arg(long = "service-account", value_name = "NAME", required = true)]
    service_accounts: Vec<String>,
    /// The namespace allowed; repeat for more.
    #[arg(long = "namespace", value_name = "NAMESPACE", required = true)]
    namespaces: Vec<String>,
}

fn metadata(name: &str, namespace: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        m.insert("namespace".into(), json!(ns));
    }
    Value::Object(m)
}

/// The store manifest.
fn store(args: &StoreArgs, default_server: &str) -> Result<Value> {
    if args.cluster && args.service_account.is_some() && args.service_account_namespace.is_none() {
        return Err(Coded::invalid(
            "a ClusterSecretStore serves every namespace: give --service-account-namespace with --service-account",
        ));
    }
    let account = |name: &str| match &args.service_account_namespace {
        Some(ns) => json!({"name": name, "namespace": ns}),
        None => json!({"name": name}),
    };
    let role = || {
        args.role
            .clone()
            .ok_or_else(|| Coded::invalid(format!("--auth {} needs --role (see `clawvault k8s role`)", args.auth)))
    };
    let auth = match args.auth.as_str() {
        "token" => json!({"tokenSecretRef": {"name": args.token_secret, "key": args.token_key}}),
        "kubernetes" => {
            let mut k = Map::new();
            k.insert("mountPath".into(), json!("kubernetes"));
            k.insert("role".into(), json!(role()?));
            if let Some(sa) = &args.service_account {
                k.insert("serviceAccountRef".into(), account(sa));
            }
            json!({"kubernetes": k})
        }
        "jwt" => {
            let sa = args.service_account.clone().ok_or_else(|| {
                Coded::invalid("--auth jwt needs --service-account: ESO requests that account's token")
            })?;
            json!({"jwt": {"path": "jwt", "role": role()?, "kubernetesServiceAccountToken": {
                "serviceAccountRef": account(&sa), "audiences": [args.audience], "expirationSeconds": 600}}})
        }
        other => return Err(Coded::invalid(format!("--auth {other:?}: use token, kubernetes or jwt"))),
    };
    if args.cluster && args.namespace.is_some() {
        return Err(Coded::invalid("a ClusterSecretStore has no namespace: drop --namespace or --cluster"));
    }
    let server = args.server.clone().unwrap_or_else(|| default_server.to_owned());
    Ok(json!({
        "apiVersion": ESO_API,
        "kind": if args.cluster { "ClusterSecretStore" } else { "SecretStore" },
        "metadata": metadata(&args.name, args.namespace.as_deref()),
        "spec": {"provider": {"vault": {"server": server, "path": args.vault, "version": "v2", "auth": auth}}},
    }))
}

/// The ExternalSecret manifest.
fn external_secret(args: &ExternalSecretArgs) -> Result<Value> {
    parse_duration(&args.refresh)?;
    if args.key.trim().is_empty() || args.property.trim().is_empty() {
        return Err(Coded::invalid("--key and --property may not be empty"));
    }
    Ok(json!({
        "apiVersion": ESO_API,
        "kind": "ExternalSecret",
        "metadata": metadata(&args.name, args.namespace.as_deref()),
        "spec": {
            "refreshInterval": args.refresh,
            "secretStoreRef": {"name": args.store, "kind": if args.cluster_store { "ClusterSecretStore" } else { "SecretStore" }},
            "target": {"name": args.target.as_deref().unwrap_or(&args.name), "creationPolicy": "Owner"},
            "data": [{
                "secretKey": args.secret_key.as_deref().unwrap_or(&args.property),
                "remoteRef": {"key": args.key, "property": args.property},
            }],
        },
    }))
}

fn print(global: &Global, manifest: &Value) -> Result<()> {
    if global.json {
        output::json(manifest)
    } else {
        print!("{}", yaml::document(manifest));
        Ok(())
    }
}

/// Runs a k8s command.
///
/// # Errors
/// Client errors and invalid input.
pub async fn run(global: &Global, cmd: K8sCommand) -> Result<()> {
    match cmd {
        K8sCommand::SecretStore(args) => {
            let target = Target::resolve(global)?;
            print(global, &store(&args, &target.address)?)
        }
        K8sCommand::ExternalSecret(args) => print(global, &external_secret(&args)?),
        K8sCommand::Role(args) => {
            let client = context::client(global)?;
            let agent_id = agent::id(&client, &args.agent).await?;
            let bindings = json!({"bound_service_account_names": args.service_accounts,
                                  "bound_service_account_namespaces": args.namespaces});
            let new =
                NewRole { method: "kubernetes".into(), name: args.name, agent_id, bindings, token_ttl_seconds: None };
            let created = client.create_role(&new).await?;
            if global.json {
                output::json(&created)
            } else {
                println!(
                    "Created kubernetes role {} ({}): service accounts {} in {} log in as agent {}.",
                    output::printable(&created.role.name),
                    created.role.id,
                    listed(&created.role.bindings["bound_service_account_names"]),
                    listed(&created.role.bindings["bound_service_account_namespaces"]),
                    args.agent
                );
                Ok(())
            }
        }
    }
}

fn listed(v: &Value) -> String {
    v.as_array().map_or_else(String::new, |a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
}
