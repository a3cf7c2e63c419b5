//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cmd::agent::AgentCommand;
use crate::cmd::apikey::ApiKeyCommand;
use crate::cmd::audit::AuditCommand;
use crate::cmd::auth::AuthCommand;
use crate::cmd::bundle::BundleCommand;
use crate::cmd::completion::CompletionArgs;
use crate::cmd::export::ExportCommand;
use crate::cmd::fleet::FleetArgs;
use crate::cmd::github_token::GithubTokenArgs;
use crate::cmd::import::ImportCommand;
use crate::cmd::inject::InjectArgs;
use crate::cmd::k8s::K8sCommand;
use crate::cmd::login::{LoginArgs, LogoutArgs};
use crate::cmd::mcp::McpArgs;
use crate::cmd::policy::PolicyCommand;
use crate::cmd::proxy::ProxyCommand;
use crate::cmd::rotate::RotateArgs;
use crate::cmd::run::RunArgs;
use crate::cmd::secret::SecretCommand;
use crate::cmd::server::ServerArgs;
use crate::cmd::share::ShareCommand;
use crate::cmd::status::StatusArgs;
use crate::cmd::sync::SyncArgs;
use crate::cmd::user::UserCommand;
use crate::cmd::vault::VaultCommand;
use crate::cmd::whoami::WhoamiArgs;

/// clawvault: secrets for fleets of AI agents.
#[derive(Debug, Parser)]
#[command(name = "clawvault", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  clawvault server                              # a local server (data in ~/.local/share/clawvault)
  clawvault vault create prod
  echo -n 'sk-live-123' | clawvault secret put prod/openai/api-key
  clawvault secret get prod/openai/api-key
  clawvault secret list prod --json
  clawvault agent create discord-bot --vault prod
  clawvault policy grant prod --agent discord-bot --path 'discord/**' --permission read

Exit codes:
  0 ok              4 not authenticated    7 gone (expired, deleted, read limit, disabled)
  1 error           5 permission denied    8 conflict
  2 usage           6 not found            9 invalid input
  3 server not reachable                       10 too many requests: retry after the time it says";

// Options every client command understands (not `server`, which has its own). A plain
// comment: a doc comment here would become the about text of every group it is flattened into.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Connection and output")]
pub struct Global {
    /// The saved login to use [env: CLAWVAULT_PROFILE] [default: default].
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Server address [env: CLAWVAULT_ADDR].
    #[arg(long, global = true, value_name = "URL")]
    pub address: Option<String>,
    /// Read the API key from this file [env: CLAWVAULT_API_KEY, CLAWVAULT_API_KEY_FILE].
    #[arg(long, global = true, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Trust this PEM certificate: the CA of the server's certificate, or the server's own
    /// self-signed one [env: CLAWVAULT_CACERT].
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

// A command group with the client options its commands share (plain comment: see Global).
#[derive(Debug, Args)]
pub struct Group<C: Subcommand> {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: C,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Server(ServerArgs),
    /// Check an API key against a server and save address, key and certificate as a profile.
    Login(LoginArgs),
    /// Forget a saved profile.
    Logout(LogoutArgs),
    /// Which server the CLI talks to, and whether it answers.
    Status(StatusArgs),
    /// Whose key the CLI uses, where it came from, and when it expires.
    Whoami(WhoamiArgs),
    /// Create, list and delete vaults.
    Vault(Group<VaultCommand>),
    /// Store, read, list, rotate and delete secrets.
    Secret(Group<SecretCommand>),
    /// Read and verify the audit trail.
    Audit(Group<AuditCommand>),
    /// Create and manage agents: machine identities with their own `ocv_` keys.
    Agent(Group<AgentCommand>),
    /// Create, list and delete users (admins).
    User(Group<UserCommand>),
    /// Make, list and delete your own API keys (`1ck_`).
    #[command(name = "apikey")]
    ApiKey(Group<ApiKeyCommand>),
    /// Grant, list and revoke access to the secrets of a vault.
    Policy(Group<PolicyCommand>),
    /// Hand one secret to someone: a link, an agent or a user, with an expiry and a read limit.
    Share(Group<ShareCommand>),
    /// Login roles of the Vault-compatible API (Kubernetes, JWT, AppRole), for admins.
    Auth(Group<AuthCommand>),
    /// Manifests for the External Secrets Operator: SecretStore, ExternalSecret, login role.
    K8s(Group<K8sCommand>),
    /// Rotate a secret and roll the new version out to the Kubernetes workloads that use it.
    Rotate(RotateArgs),
    /// Run a command with secrets in its environment (needs only `use`), masked in its output.
    Run(Box<RunArgs>),
    /// Render a template naming secrets into a private file (needs only `use`).
    Inject(Box<InjectArgs>),
    /// Which consumer holds which version of each secret (who still runs the old key).
    Fleet(FleetArgs),
    /// Mint a GitHub installation token from a `github_app` secret (needs only `use`).
    #[command(name = "github-token")]
    GithubToken(GithubTokenArgs),
    /// Routes of the credential-injecting proxy (stock SDKs call providers through it and
    /// never hold the key), and what each agent spent on them.
    Proxy(Group<ProxyCommand>),
    /// Keep files of secrets on this host up to date (a daemon; agenix / Vault Agent's job).
    Sync(SyncArgs),
    /// Bring secrets over from where they live today (a `.env` file), with a dry run first.
    Import(Group<ImportCommand>),
    /// Write the secrets under a prefix to a private `.env` or JSON file (the way back).
    Export(Group<ExportCommand>),
    /// Carry the secrets a host needs in one age-encrypted file, and install it on the host.
    Bundle(Group<BundleCommand>),
    /// Serve MCP on stdin and stdout for an agent framework, as the agent (relayed to the
    /// server's /mcp).
    Mcp(McpArgs),
    /// Print a shell completion script (bash, zsh, fish).
    Completion(CompletionArgs),
}

impl Command {
    /// The client options of a command (none for `server`).
    #[must_use]
    pub fn global(&self) -> Option<&Global> {
        match self {
            Self::Server(_) | Self::Completion(_) | Self::Sync(_) => None,
            Self::Login(a) => Some(&a.global),
            Self::Logout(a) => Some(&a.global),
            Self::Status(a) => Some(&a.global),
            Self::Whoami(a) => Some(&a.global),
            Self::Vault(g) => Some(&g.global),
            Self::Secret(g) => Some(&g.global),
            Self::Audit(g) => Some(&g.global),
            Self::Agent(g) => Some(&g.global),
            Self::User(g) => Some(&g.global),
            Self::ApiKey(g) => Some(&g.global),
            Self::Policy(g) => Some(&g.global),
            Self::Share(g) => Some(&g.global),
            Self::Auth(g) => Some(&g.global),
            Self::K8s(g) => Some(&g.global),
            Self::Rotate(a) => Some(&a.global),
            Self::Run(a) => Some(&a.global),
            Self::Inject(a) => Some(&a.global),
            Self::Fleet(a) => Some(&a.global),
            Self::GithubToken(a) => Some(&a.global),
            Self::Proxy(g) => Some(&g.global),
            Self::Import(g) => Some(&g.global),
            Self::Export(g) => Some(&g.global),
            Self::Bundle(g) => Some(&g.global),
            Self::Mcp(a) => Some(&a.global),
        }
    }
}
