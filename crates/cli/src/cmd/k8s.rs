//! `clawvault k8s ...`: manifests for the External Secrets Operator, printed for `kubectl apply
//! -f -`: its `vault` provider pointed at clawvault's Vault-compatible API, or its
//! `onepassword` provider pointed at the Connect-compatible API (as a platform's Secret
//! Providers page writes them); and the login role a store's Kubernetes auth needs.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};
use clawvault_client::NewRole;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::{agent, parse_duration};
use crate::cli::Global;
use crate::context::{self, Target};
use crate::exit::Coded;
use crate::output;
use crate::yaml;

/// The API group and version of ESO's resources.
const ESO_API: &str = "external-secrets.io/v1";
/// Where Secret Providers pages put the store of the `onepassword` provider.
const ONEPASSWORD_NAMESPACE: &str = "claw-machine";

/// The ESO provider a manifest is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// ESO's `vault` provider, against the Vault-compatible API.
    Vault,
    /// ESO's `onepassword` provider, against the 1Password Connect-compatible API.
    Onepassword,
}

#[derive(Debug, Subcommand)]
pub enum K8sCommand {
    /// Print a SecretStore (or ClusterSecretStore) that reads a vault.
    #[command(after_help = "\
Examples:
  clawvault k8s secret-store --vault prod --auth kubernetes --role eso | kubectl apply -f -
  clawvault k8s secret-store --vault prod --auth token --token-secret clawvault-token
  clawvault k8s secret-store --cluster --vault prod --auth jwt --role eso \\
      --service-account eso --service-account-namespace external-secrets
  clawvault k8s secret-store --provider onepassword --vault prod \\
      --server http://clawvault.clawvault.svc:8430 --token-file eso.key | kubectl apply -f -

--auth kubernetes logs in with ESO's service account (or --service-account) under a role that
`clawvault k8s role` creates; --auth token reads a clawvault token or agent key from a Secret.
--provider onepassword prints the store of ESO's 1Password provider, pointed at the Connect API
(--server, the address of `connect.listen`), and, with --token-file, the Secret holding the
agent key it sends as its Connect token (namespace claw-machine unless --namespace).")]
    SecretStore(Box<StoreArgs>),
    /// Print an ExternalSecret that syncs one field of a secret into a Kubernetes Secret.
    #[command(after_help = "\
Examples:
  clawvault k8s external-secret --name discord-token --key bots/discord | kubectl apply -f -
  clawvault k8s external-secret --name db --key apps/db --property password --refresh 15m

  clawvault k8s external-secret --provider onepassword --name discord-token --item bots/discord

The field defaults to `credential`, which is how a secret that is not a JSON object reads
through the Vault API and the Connect API; for a JSON secret name one of its keys.")]
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
    /// The ESO provider: vault (the Vault-compatible API) or onepassword (the Connect API).
    #[arg(long, value_enum, default_value = "vault")]
    provider: Provider,
    /// The store's name.
    #[arg(long, default_value = "clawvault")]
    name: String,
    /// The store's namespace (SecretStore only; onepassword: claw-machine by default).
    #[arg(long, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// onepassword: a file holding the agent key (or token) ESO sends, put in the printed
    /// token Secret (`-`: stdin); without it, create that Secret yourself.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// A ClusterSecretStore, usable from every namespace.
    #[arg(long)]
    cluster: bool,
    /// The vault the store reads (the Vault API's mount).
    #[arg(long, value_name = "VAULT")]
    vault: String,
    /// The server as pods reach it (default: the address this CLI uses; onepassword: the
    /// Connect API's address, required).
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
    /// token and onepassword: the Secret holding the token or key.
    #[arg(long, default_value = "clawvault-token")]
    token_secret: String,
    /// token and onepassword: the key in that Secret.
    #[arg(long, default_value = "token")]
    token_key: String,
}

/// `k8s external-secret`.
#[derive(Debug, Args)]
pub struct ExternalSecretArgs {
    /// The store's provider: vault or onepassword (whose store lives in claw-machine).
    #[arg(long, value_enum, default_value = "vault")]
    provider: Provider,
    /// The ExternalSecret's name, also the Kubernetes Secret's (unless --target).
    #[arg(long)]
    name: String,
    /// The secret's path in the store's vault (onepassword: the item's title).
    #[arg(long, visible_alias = "item", value_name = "PATH")]
    key: String,
    /// The field to take.
    #[arg(long, visible_alias = "field", value_name = "FIELD", default_value = "credential")]
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
    /// The namespace (onepassword: claw-machine by default).
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

/// The token Secret of a `onepassword` store, and the store.
fn onepassword_store(args: &StoreArgs, token: Option<&str>) -> Result<Vec<Value>> {
    if args.cluster {
        return Err(Coded::invalid(
            "--provider onepassword prints a namespaced SecretStore, as Secret Providers pages create it; drop --cluster",
        ));
    }
    let server = args.server.clone().ok_or_else(|| {
        Coded::invalid(
            "--provider onepassword needs --server: the Connect API's address as pods reach it (the server's connect.listen), such as http://clawvault.clawvault.svc:8430",
        )
    })?;
    let namespace = args.namespace.as_deref().unwrap_or(ONEPASSWORD_NAMESPACE);
    let mut docs = Vec::new();
    if let Some(token) = token {
        docs.push(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata(&args.token_secret, Some(namespace)),
            "type": "Opaque",
            "stringData": {args.token_key.clone(): token},
        }));
    }
    docs.push(json!({
        "apiVersion": ESO_API,
        "kind": "SecretStore",
        "metadata": metadata(&args.name, Some(namespace)),
        "spec": {"provider": {"onepassword": {
            "connectHost": server.trim_end_matches('/'),
            "vaults": {args.vault.clone(): 1},
            "auth": {"secretRef": {"connectTokenSecretRef": {"name": args.token_secret, "key": args.token_key}}},
        }}},
    }));
    Ok(docs)
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
    let namespace = match args.provider {
        Provider::Vault => args.namespace.as_deref(),
        Provider::Onepassword => Some(args.namespace.as_deref().unwrap_or(ONEPASSWORD_NAMESPACE)),
    };
    Ok(json!({
        "apiVersion": ESO_API,
        "kind": "ExternalSecret",
        "metadata": metadata(&args.name, namespace),
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
    print_all(global, std::slice::from_ref(manifest))
}

/// Several manifests: YAML documents, or (`--json`) one `List` when there is more than one.
fn print_all(global: &Global, manifests: &[Value]) -> Result<()> {
    match manifests {
        [one] if global.json => output::json(one),
        _ if global.json => output::json(&json!({"apiVersion": "v1", "kind": "List", "items": manifests})),
        _ => {
            let docs: Vec<String> = manifests.iter().map(yaml::document).collect();
            print!("{}", docs.join("---\n"));
            Ok(())
        }
    }
}

/// The token in `path` (`-`: stdin).
fn read_token(path: &Path) -> Result<Zeroizing<String>> {
    if path == Path::new("-") {
        let mut text = Zeroizing::new(String::new());
        std::io::stdin().read_to_string(&mut text)?;
        let token = Zeroizing::new(text.trim().to_owned());
        if token.is_empty() {
            return Err(Coded::invalid("stdin is empty: pipe in the agent key (ocv_…) ESO should send"));
        }
        return Ok(token);
    }
    context::read_key_file(path)
}

/// Runs a k8s command.
///
/// # Errors
/// Client errors and invalid input.
pub async fn run(global: &Global, cmd: K8sCommand) -> Result<()> {
    match cmd {
        K8sCommand::SecretStore(args) if args.provider == Provider::Onepassword => {
            let token = args.token_file.as_deref().map(read_token).transpose()?;
            let docs = onepassword_store(&args, token.as_deref().map(String::as_str))?;
            if token.is_none() && !global.json {
                eprintln!(
                    "The store reads its token from Secret {}/{} (key {}): create it with\n  kubectl -n {} create secret generic {} --from-file={}=AGENT_KEY_FILE\nor give --token-file to print it here.",
                    args.namespace.as_deref().unwrap_or(ONEPASSWORD_NAMESPACE),
                    args.token_secret,
                    args.token_key,
                    args.namespace.as_deref().unwrap_or(ONEPASSWORD_NAMESPACE),
                    args.token_secret,
                    args.token_key
                );
            }
            print_all(global, &docs)
        }
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
