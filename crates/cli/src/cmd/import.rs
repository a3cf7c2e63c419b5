//! `clawvault import SOURCE ...`: secrets brought over from where they live today, one command
//! per source. Every source is read whole first (a line that cannot be read stops everything,
//! named with its file and line); then each secret is compared with what the vault holds, so
//! `--dry-run` shows what would be created, changed or left alone, and a re-run changes
//! nothing. Values are never printed. One reader per source in `import/`.

mod agenix;
mod dotenv;
mod k8s;
mod vault;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use clawvault_client::{Client, PutSecret, SecretValue};
use clawvault_core::SecretPath;
use zeroize::Zeroizing;

use crate::cli::Global;
use crate::context;
use crate::exit::Coded;
use crate::output::{self, Table};

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import a `.env` file: one secret per variable, named by it.
    #[command(after_help = "\
Examples:
  clawvault import dotenv .env --vault prod --prefix bots/discord --dry-run
  clawvault import dotenv .env --vault prod --prefix bots/discord

Reads the file as dotenv tools do: `export`, comments, single quotes taken literally, double
quotes with \\n escapes, quoted values over several lines, ${NAME} of an earlier line (never
of this machine's environment). DATABASE_URL becomes PREFIX/DATABASE_URL.")]
    Dotenv {
        /// The `.env` file to read (it is read whole before anything is written).
        file: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Import agenix's `*.age` files: one secret per file, named by it without `.age`.
    #[command(after_help = "\
Examples:
  clawvault import agenix --identity host.key secrets/*.age --vault prod --dry-run
  clawvault import agenix --identity host.key secrets/*.age --vault prod --prefix hosts/web-1

Every file is decrypted before anything is written: a file that no identity opens, or that is
damaged, stops the import and is named. Identities are age X25519 keys (AGE-SECRET-KEY-1…);
convert an SSH host key first (ssh-to-age -private-key).")]
    Agenix {
        /// An age identity file that opens the files (repeat for several).
        #[arg(long, short = 'i', value_name = "KEY", required = true)]
        identity: Vec<PathBuf>,
        /// The `.age` files (binary or armored).
        #[arg(required = true, value_name = "FILE.age")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// Import a whole KV v2 mount of a Vault or OpenBao server over its HTTP API.
    #[command(after_help = "\
Examples:
  clawvault import vault --vault-addr https://vault.example.com:8200 --token-file vault.token \\
    --mount secret --vault prod --prefix from-vault --dry-run
  clawvault import vault --vault-addr http://127.0.0.1:8200 --token-file vault.token \\
    --mount secret --vault prod --all-versions

Each key becomes one secret of type json holding its fields (what clawvault's Vault-compatible
API stores), so `bao kv get` and ESO read the same after the move. --all-versions brings every
readable version of a new secret, oldest first; deleted and destroyed versions are skipped.")]
    Vault {
        #[command(flatten)]
        source: vault::Source,
        #[command(flatten)]
        target: Target,
    },
    /// Import Kubernetes Secret manifests: one secret per key, named NAME/KEY.
    #[command(
        name = "k8s-secret",
        after_help = "\
Examples:
  clawvault import k8s-secret bot-tokens.yaml --vault prod --prefix k8s --dry-run
  clawvault import k8s-secret bot-tokens.yaml --vault prod --prefix k8s

As `kubectl get secret NAME -o yaml` (or -o json) writes them: YAML or JSON, several documents
or a List; base64 `data` and plain `stringData` (which wins for a key in both). A document that
is not a Secret stops the import, named by file and line."
    )]
    K8sSecret {
        /// The manifests.
        #[arg(required = true, value_name = "MANIFEST")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        target: Target,
    },
}

/// Where imported secrets go.
#[derive(Debug, Args)]
pub struct Target {
    /// The vault (name or id).
    #[arg(long, value_name = "VAULT")]
    vault: String,
    /// Put every secret under this path.
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// The type of the secrets made.
    #[arg(long = "type", value_name = "TYPE", default_value = "generic")]
    secret_type: String,
    /// Show what would be created, changed or left alone, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// One secret to import, and where it came from (`FILE:LINE`, `FILE`, `MOUNT/KEY`).
struct Incoming {
    path: String,
    value: Zeroizing<Vec<u8>>,
    origin: String,
    /// Versions written before `value` when the secret is created (oldest first).
    earlier: Vec<Zeroizing<Vec<u8>>>,
    /// The source's own type for it (else `--type`).
    secret_type: Option<&'static str>,
    /// Why it is left alone, when it is.
    skip: Option<&'static str>,
}

impl Incoming {
    fn new(path: String, value: Zeroizing<Vec<u8>>, origin: String) -> Self {
        Self { path, value, origin, earlier: Vec::new(), secret_type: None, skip: None }
    }

    fn skipped(path: String, origin: String, why: &'static str) -> Self {
        Self { skip: Some(why), ..Self::new(path, Zeroizing::new(Vec::new()), origin) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Change,
    Keep,
    Skip,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Change => "change",
            Self::Keep => "unchanged",
            Self::Skip => "skipped",
        }
    }
}

/// Runs an `import` command.
///
/// # Errors
/// A source that cannot be read (named with its line), API errors.
pub async fn run(global: &Global, command: ImportCommand) -> Result<()> {
    match command {
        ImportCommand::Dotenv { file, target } => {
            let incoming = dotenv::read(&file, target.prefix.as_deref())?;
            let client = context::client(global)?;
            import(global, &client, &target, incoming).await
        }
        ImportCommand::Vault { source, target } => {
            let incoming = vault::read(&source, target.prefix.as_deref()).await?;
            let client = context::client(global)?;
            import(global, &client, &target, incoming).await
        }
        ImportCommand::K8sSecret { files, target } => {
            let incoming = k8s::read(&files, target.prefix.as_deref())?;
            let client = context::client(global)?;
            import(global, &client, &target, incoming).await
        }
        ImportCommand::Agenix { identity, files, target } => {
            let incoming = agenix::read(&super::bundle::identities(&identity)?, &files, target.prefix.as_deref())?;
            let client = context::client(global)?;
            import(global, &client, &target, incoming).await
        }
    }
}

async fn import(global: &Global, client: &Client, target: &Target, incoming: Vec<Incoming>) -> Result<()> {
    for item in &incoming {
        check_type(target, item)?;
    }
    // What exists, and with which read limit, from one listing: comparing reads a value, and
    // a read-limited secret must not spend a reading on a comparison (or a dry run).
    let listed: std::collections::HashMap<String, Option<i64>> = client
        .list_secrets(&target.vault, target.prefix.as_deref().unwrap_or("").trim_end_matches('/'))
        .await?
        .into_iter()
        .map(|m| (m.path, m.max_access_count))
        .collect();
    let mut plan = Vec::with_capacity(incoming.len());
    let comparing = progress(incoming.len() as u64, "comparing with the vault");
    for mut item in incoming {
        let action = match listed.get(&item.path) {
            _ if item.skip.is_some() => Action::Skip,
            None => Action::Create,
            Some(Some(_)) => {
                item.skip = Some("it has a read limit: comparing would spend a reading");
                Action::Skip
            }
            Some(None) => match client.get_secret(&target.vault, &item.path, None).await {
                Ok(current) if same(current.value.expose(), &item.value) => Action::Keep,
                Ok(_) => Action::Change,
                Err(e) if e.status() == Some(404) => Action::Create,
                Err(e) => return Err(e).with_context(|| format!("reading {}/{} to compare", target.vault, item.path)),
            },
        };
        plan.push((item, action));
        comparing.inc(1);
    }
    comparing.finish_and_clear();
    if !target.dry_run {
        let writes = plan.iter().filter(|(_, a)| matches!(a, Action::Create | Action::Change)).count() as u64;
        let writing = progress(writes, "writing");
        let mut written = 0u64;
        for (item, action) in &plan {
            // A secret made here gets its history; one that exists gets only the current value.
            let values: Vec<&[u8]> = match action {
                Action::Keep | Action::Skip => continue,
                Action::Create => item.earlier.iter().map(|v| v.as_slice()).chain([item.value.as_slice()]).collect(),
                Action::Change => vec![item.value.as_slice()],
            };
            for value in values {
                let mut put = PutSecret::with_value(SecretValue::new(value.to_vec()));
                put.secret_type = Some(item.secret_type.map_or_else(|| target.secret_type.clone(), str::to_owned));
                client.put_secret(&target.vault, &item.path, &put).await.with_context(|| {
                    format!(
                        "writing {}/{} (from {}) after {written} of {writes} secrets were written; a re-run \
                             writes only what is missing",
                        target.vault, item.path, item.origin
                    )
                })?;
            }
            written += 1;
            writing.inc(1);
        }
        writing.finish_and_clear();
    }
    report(global, target, &plan)
}

fn report(global: &Global, target: &Target, plan: &[(Incoming, Action)]) -> Result<()> {
    if global.json {
        let rows: Vec<serde_json::Value> = plan
            .iter()
            .map(|(i, a)| {
                serde_json::json!({
                    "path": i.path,
                    "action": a.as_str(),
                    "from": i.origin,
                    "versions": if *a == Action::Create { i.earlier.len() + 1 } else { usize::from(*a == Action::Change) },
                    "reason": i.skip,
                })
            })
            .collect();
        return output::json(&serde_json::json!({ "vault": target.vault, "dry_run": target.dry_run, "secrets": rows }));
    }
    let mut t = Table::new(vec!["ACTION", "SECRET", "FROM"]);
    for (i, a) in plan {
        let mut action = a.as_str().to_owned();
        if *a == Action::Create && !i.earlier.is_empty() {
            action.push_str(&format!(" ({} versions)", i.earlier.len() + 1));
        }
        if let Some(why) = i.skip {
            action.push_str(&format!(" ({why})"));
        }
        t.row(vec![action, format!("{}/{}", target.vault, i.path), i.origin.clone()]);
    }
    print!("{}", t.render());
    let count = |want: Action| plan.iter().filter(|(_, a)| *a == want).count();
    let (create, change, keep, skip) =
        (count(Action::Create), count(Action::Change), count(Action::Keep), count(Action::Skip));
    let skipped = if skip > 0 { format!(", {skip} skipped") } else { String::new() };
    if target.dry_run {
        println!("Dry run: {create} to create, {change} to change, {keep} unchanged{skipped}; nothing was written.");
    } else {
        println!("Imported: {create} created, {change} changed, {keep} unchanged{skipped}.");
    }
    Ok(())
}

/// A progress bar on stderr when someone watches at a terminal and there is much to do.
fn progress(len: u64, what: &'static str) -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if len < 20 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_message(what);
    bar
}

/// Refuses, before anything is written, a value the server would refuse for its type.
fn check_type(target: &Target, item: &Incoming) -> Result<()> {
    if item.skip.is_some() {
        return Ok(());
    }
    let kind = item.secret_type.unwrap_or(target.secret_type.as_str());
    let fits = match kind {
        "json" => serde_json::from_slice::<serde_json::Value>(&item.value).is_ok_and(|v| v.is_object()),
        "github_app" => clawvault_core::github_app::parse(&item.value).is_ok(),
        _ => true,
    };
    if !fits {
        return Err(Coded::invalid(format!(
            "{} ({}) is not a {kind} value; nothing was written",
            item.origin, item.path
        )));
    }
    Ok(())
}

/// The same value: the same bytes, or the same JSON (a server may store JSON re-serialised).
fn same(current: &[u8], new: &[u8]) -> bool {
    if current == new {
        return true;
    }
    match (serde_json::from_slice::<serde_json::Value>(current), serde_json::from_slice::<serde_json::Value>(new)) {
        (Ok(a), Ok(b)) => a.is_object() && a == b,
        _ => false,
    }
}

/// `PREFIX/name`, checked as a secret path; `origin` names the source in the error.
fn place(prefix: Option<&str>, name: &str, origin: &str) -> Result<String> {
    let path = match prefix {
        Some(p) => format!("{}/{name}", p.trim_end_matches('/')),
        None => name.to_owned(),
    };
    SecretPath::parse(&path)
        .map_err(|e| Coded::invalid(format!("{origin}: {name} does not make a secret path: {e}")))?;
    Ok(path)
}
