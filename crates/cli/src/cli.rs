//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// clawvault: secrets for fleets of AI agents.
#[derive(Debug, Parser)]
#[command(name = "clawvault", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  clawvault server                                      # start a local server (./clawvault-data)
  clawvault vault create prod
  echo -n 'sk-live-123' | clawvault secret put prod/openai/api-key
  clawvault secret get prod/openai/api-key
  clawvault secret list prod --json
  clawvault agent create discord-bot --vault prod
  clawvault policy grant prod --agent discord-bot --path 'discord/**' --permission read

Exit codes:
  0 ok · 1 error · 2 usage · 3 server not reachable · 4 not authenticated · 5 permission denied
  6 not found · 7 gone (expired, deleted, read limit reached, disabled) · 8 conflict · 9 invalid input";

/// Options every command understands.
#[derive(Debug, Args)]
pub struct Global {
    /// Server address.
    #[arg(long, global = true, env = "CLAWVAULT_ADDR", value_name = "URL")]
    pub address: Option<String>,
    /// Read the API key from this file.
    #[arg(long, global = true, env = "CLAWVAULT_API_KEY_FILE", value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Trust this PEM CA certificate (for a server with a self-signed certificate).
    #[arg(long, global = true, env = "CLAWVAULT_CACERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Server(ServerArgs),
    /// Save a server address and API key for later commands.
    Login(LoginArgs),
    /// Create, list and delete vaults.
    #[command(subcommand)]
    Vault(VaultCommand),
    /// Store, read, list, rotate and delete secrets.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Read and verify the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Create and manage agents: machine identities with their own `ocv_` keys.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Create, list and delete users (admins).
    #[command(subcommand)]
    User(UserCommand),
    /// Grant, list and revoke access to the secrets of a vault.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Hand one secret to someone: a link, an agent or a user, with an expiry and a read limit.
    #[command(subcommand)]
    Share(ShareCommand),
}

/// `clawvault server`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault server                                  # ./clawvault-data, http://127.0.0.1:8420
  clawvault server --data-dir /var/lib/clawvault --listen 0.0.0.0:8420 \\
      --tls-cert /etc/clawvault/cert.pem --tls-key /etc/clawvault/key.pem
  clawvault server --config /etc/clawvault/clawvault.toml
  CLAWVAULT_DATABASE_URL=postgres://clawvault@db:5432/clawvault \
      clawvault server --storage postgres --listen 0.0.0.0:8420   # one of several replicas

With --storage postgres every replica needs the same root key (root.key in its data directory,
or --root-key-file); the database URL comes from CLAWVAULT_DATABASE_URL or --database-url-file, never from a flag.

Every flag can also come from the environment (CLAWVAULT_DATA_DIR, CLAWVAULT_LISTEN, ...) or the
config file; flags win over the environment, which wins over the file.")]
pub struct ServerArgs {
    /// TOML configuration file.
    #[arg(long, env = "CLAWVAULT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (database, root key, first admin key).
    #[arg(long, env = "CLAWVAULT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where the data lives: sqlite (one server, the default) or postgres (several replicas).
    #[arg(long, env = "CLAWVAULT_STORAGE", value_name = "KIND")]
    pub storage: Option<String>,
    /// The root key file, when not root.key in the data directory (replicas share one).
    #[arg(long, env = "CLAWVAULT_ROOT_KEY_FILE", value_name = "FILE")]
    pub root_key_file: Option<PathBuf>,
    /// A file holding the PostgreSQL URL (a mounted Kubernetes Secret, say).
    #[arg(long, env = "CLAWVAULT_DATABASE_URL_FILE", value_name = "FILE")]
    pub database_url_file: Option<PathBuf>,
    /// Listen address (IP:PORT; port 0 picks a free one).
    #[arg(long, env = "CLAWVAULT_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// TLS certificate chain (PEM).
    #[arg(long, env = "CLAWVAULT_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "CLAWVAULT_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Log filter (`info`, `debug`, `clawvault_server=trace`, ...).
    #[arg(long, env = "CLAWVAULT_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "CLAWVAULT_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Serve plain HTTP on an address other machines can reach (a proxy in front ends TLS);
    /// without it, such an address needs --tls-cert and --tls-key.
    #[arg(long, env = "CLAWVAULT_INSECURE_HTTP")]
    pub insecure_http: bool,
    /// The address clients reach this server at, for share links (https://vault.example.com).
    #[arg(long, env = "CLAWVAULT_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Lifetime of access tokens, in seconds (5 to 86400).
    #[arg(long, env = "CLAWVAULT_TOKEN_TTL_SECONDS", value_name = "SECONDS")]
    pub token_ttl: Option<String>,
}

/// `clawvault login`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  clawvault login --address https://vault.example.com:8420     # prompts for the API key
  clawvault login --address http://127.0.0.1:8420 --from-file ./clawvault-data/admin-key
  pass show clawvault/key | clawvault login --address https://vault.example.com")]
pub struct LoginArgs {
    /// Read the API key from this file (otherwise from stdin or a prompt).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Create a vault.
    #[command(after_help = "Examples:\n  clawvault vault create prod --description 'production bots'")]
    Create {
        /// Name: letters, digits, - and _.
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List vaults.
    #[command(after_help = "Examples:\n  clawvault vault list\n  clawvault vault list --json | jq -r '.[].name'")]
    List,
    /// Delete a vault and every secret in it.
    #[command(after_help = "Examples:\n  clawvault vault delete staging --yes")]
    Delete {
        /// Vault name or id.
        vault: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Where a new value comes from.
#[derive(Debug, Args)]
pub struct ValueSource {
    /// Read the value from this file, byte for byte (otherwise stdin, or a hidden prompt).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Keep a trailing newline read from stdin (dropped by default).
    #[arg(long)]
    pub keep_newline: bool,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a new version of a secret (value from stdin, a file, or a hidden prompt).
    #[command(after_help = "\
Examples:
  echo -n 'sk-live-123' | clawvault secret put prod/openai/api-key
  clawvault secret put prod/tls/cert --from-file cert.pem --type certificate
  clawvault secret put prod/db/password --expires-in 24h --max-reads 3 --metadata '{\"owner\":\"ops\"}'")]
    Put {
        /// VAULT/PATH, e.g. prod/openai/api-key.
        reference: String,
        #[command(flatten)]
        source: ValueSource,
        /// Type: generic, password, api_key, private_key, certificate, file, note, ssh_key, env_bundle, env.
        #[arg(long = "type", value_name = "TYPE")]
        secret_type: Option<String>,
        /// Metadata as a JSON object.
        #[arg(long, value_name = "JSON")]
        metadata: Option<String>,
        /// Unreadable after this time (RFC 3339).
        #[arg(long, value_name = "TIME", conflicts_with = "expires_in")]
        expires_at: Option<String>,
        /// Unreadable after this long (e.g. 30m, 24h, 7d).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
        /// Reads allowed before the secret answers 410.
        #[arg(long, value_name = "N")]
        max_reads: Option<i64>,
    },
    /// Print a secret's value (or all its fields with --json).
    #[command(after_help = "\
Examples:
  clawvault secret get prod/openai/api-key
  clawvault secret get prod/openai/api-key --version 2
  export OPENAI_API_KEY=\"$(clawvault secret get prod/openai/api-key)\"")]
    Get {
        /// VAULT/PATH.
        reference: String,
        /// A specific version.
        #[arg(long)]
        version: Option<i64>,
    },
    /// List secrets in a vault (never values).
    #[command(after_help = "Examples:\n  clawvault secret list prod\n  clawvault secret list prod --prefix openai/")]
    List {
        /// Vault name or id.
        vault: String,
        /// Only paths starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// List a secret's versions, newest first.
    #[command(after_help = "Examples:\n  clawvault secret versions prod/openai/api-key")]
    Versions {
        /// VAULT/PATH.
        reference: String,
    },
    /// Delete a secret (all versions; an admin can restore it).
    #[command(after_help = "Examples:\n  clawvault secret delete prod/old/token")]
    Delete {
        /// VAULT/PATH.
        reference: String,
    },
    /// Restore a deleted secret (admins).
    #[command(after_help = "Examples:\n  clawvault secret restore prod/old/token")]
    Restore {
        /// VAULT/PATH.
        reference: String,
    },
    /// Replace a secret's value with one the server generates.
    #[command(
        after_help = "Examples:\n  clawvault secret rotate prod/webhook/signing-key --length 64 --charset alphanumeric"
    )]
    Rotate {
        /// VAULT/PATH.
        reference: String,
        /// Length, 8 to 1024.
        #[arg(long, default_value_t = 32)]
        length: usize,
        /// hex, base64, alphanumeric or ascii.
        #[arg(long, default_value = "hex")]
        charset: String,
    },
    /// Disable one version (kept for the record; reads answer 410).
    #[command(after_help = "Examples:\n  clawvault secret disable prod/openai/api-key 3")]
    Disable {
        /// VAULT/PATH.
        reference: String,
        /// Version number.
        version: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the audit hash chain (on the server, or offline from a data directory).
    #[command(after_help = "\
Examples:
  clawvault audit verify                              # ask the running server
  clawvault audit verify --data-dir ./clawvault-data  # offline, read-only
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
  clawvault audit anchor --data-dir ./clawvault-data")]
    Anchor {
        /// Read this data directory directly instead of asking a server.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// List audit events.
    #[command(after_help = "Examples:\n  clawvault audit list --action secret.read --limit 20")]
    List {
        /// Only this action.
        #[arg(long)]
        action: Option<String>,
        /// Only this actor id.
        #[arg(long)]
        actor: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Page offset.
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an agent; its key is printed once.
    #[command(after_help = "\
Examples:
  clawvault agent create discord-bot --description 'posts release notes' --vault prod
  clawvault agent create ci --vault prod --vault staging --ttl 900 --expires-in 30d
  clawvault agent create ci --json | jq -r .api_key > ci.key   # keep the key in a file, not on screen

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
    /// List pending enrollment requests (admins).
    #[command(after_help = "Examples:\n  clawvault agent pending\n  clawvault agent pending --json")]
    Pending,
    /// Approve an enrollment request (admins): the agent receives its key on its next poll.
    #[command(after_help = "\
Examples:
  clawvault agent pending                                   # compare the fingerprint with the agent's
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

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (admins); their API key is printed once.
    #[command(after_help = "\
Examples:
  clawvault user create mia                       # a member: sees only her own vaults and what policies allow her
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
    #[command(after_help = "Examples:\n  clawvault user delete mia --yes")]
    Delete {
        /// User id or name.
        user: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

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
  clawvault policy grant prod --agent ci --path 'deploy/**' --permission read,rotate --ip 10.0.0.0/8 --expires-in 7d
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

/// Who receives a share: exactly one of these.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RecipientArg {
    /// Anyone holding the link (add --passphrase and --max-reads).
    #[arg(long)]
    pub anyone: bool,
    /// This agent (id or name).
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,
    /// This user (id, or name for admins).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The user who created the calling agent (for agents handing a value to their owner).
    #[arg(long)]
    pub creator: bool,
}

/// Where a share passphrase comes from.
#[derive(Debug, Args)]
pub struct PassphraseArg {
    /// Read the passphrase from this file.
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase")]
    pub passphrase_file: Option<PathBuf>,
    /// Ask for a passphrase (hidden), or read it from stdin when stdin is not a terminal.
    #[arg(long)]
    pub passphrase: bool,
}

#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Share a secret's current value (needs the `share` permission); prints the share's link.
    #[command(after_help = "\
Examples:
  clawvault share create prod/openai/api-key --anyone --expires-in 1h --max-reads 1 --passphrase
  clawvault share create prod/db/password --user mia --expires-in 7d
  clawvault share create prod/discord/token --agent release-bot --max-reads 3
  clawvault share create ops/found-key --creator            # an agent handing a value to its owner

The recipient opens it with `clawvault share open ID_OR_LINK`. A link share without a
passphrase is readable by whoever sees the link: keep --max-reads low.")]
    Create {
        /// VAULT/PATH of the secret.
        reference: String,
        #[command(flatten)]
        recipient: RecipientArg,
        /// The share stops opening after this long (e.g. 30m, 24h, 7d).
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        expires_in: String,
        /// The share opens at most this many times.
        #[arg(long, value_name = "N")]
        max_reads: Option<i64>,
        #[command(flatten)]
        passphrase: PassphraseArg,
        /// Only open from this client address range (CIDR); repeat for more.
        #[arg(long = "ip", value_name = "CIDR")]
        ips: Vec<String>,
    },
    /// Open a share and print its value (shares addressed to you use your key; link shares
    /// open without one).
    #[command(after_help = "\
Examples:
  clawvault share open https://vault.example.com/v1/share/5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01 --passphrase
  clawvault share open 5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01 > db-password
  clawvault share open 5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01 --passphrase-file pass.txt --json

A link on another server than your saved one is opened without your credentials.")]
    Open {
        /// Share id or link.
        share: String,
        #[command(flatten)]
        passphrase: PassphraseArg,
    },
    /// List shares you created (or, with --inbound, shares addressed to you; with --all, every
    /// share on the server, for admins).
    #[command(
        after_help = "Examples:\n  clawvault share list\n  clawvault share list --inbound --json\n  clawvault share list --all"
    )]
    List {
        /// Shares addressed to you instead of those you created.
        #[arg(long, conflicts_with = "all")]
        inbound: bool,
        /// Every share on the server (admins).
        #[arg(long)]
        all: bool,
    },
    /// Revoke a share you created (admins: any share): it stops opening at once.
    #[command(after_help = "Examples:\n  clawvault share revoke 5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01")]
    Revoke {
        /// Share id or link.
        share: String,
    },
    /// Accept a share addressed to you.
    #[command(after_help = "Examples:\n  clawvault share accept 5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01")]
    Accept {
        /// Share id or link.
        share: String,
    },
    /// Decline a share addressed to you: it does not open until you accept it.
    #[command(after_help = "Examples:\n  clawvault share decline 5f0c3c9e-8a1d-4b7e-9c2f-1e3d5a7b9c01")]
    Decline {
        /// Share id or link.
        share: String,
    },
}
