//! `clawvault import SOURCE ...`: secrets brought over from where they live today, one command
//! per source. Every source is read whole first (a line that cannot be read stops everything,
//! named with its file and line); then each secret is compared with what the vault holds, so
//! `--dry-run` shows what would be created, changed or left alone, and a re-run changes
//! nothing. Values are never printed.

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

/// One secret to import, and where it came from (`FILE:LINE`).
struct Incoming {
    path: String,
    value: Zeroizing<Vec<u8>>,
    origin: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Change,
    Keep,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Change => "change",
            Self::Keep => "unchanged",
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
            let incoming = read_dotenv(&file, target.prefix.as_deref())?;
            let client = context::client(global)?;
            import(global, &client, &target, incoming).await
        }
    }
}

fn read_dotenv(file: &std::path::Path, prefix: Option<&str>) -> Result<Vec<Incoming>> {
    let shown = file.display();
    let bytes = std::fs::read(file).with_context(|| format!("reading {shown}"))?;
    let text = String::from_utf8(bytes).map_err(|_| Coded::invalid(format!("{shown} is not UTF-8 text")))?;
    let variables = clawvault_core::dotenv::parse(&text).map_err(|e| Coded::invalid(format!("{shown}: {e}")))?;
    variables
        .into_iter()
        .map(|v| {
            let path = match prefix {
                Some(p) => format!("{}/{}", p.trim_end_matches('/'), v.key),
                None => v.key.clone(),
            };
            SecretPath::parse(&path).map_err(|e| {
                Coded::invalid(format!("{shown}: line {}: {} does not make a secret path: {e}", v.line, v.key))
            })?;
            let value = Zeroizing::new(v.value.as_bytes().to_vec());
            Ok(Incoming { path, value, origin: format!("{shown}:{}", v.line) })
        })
        .collect()
}

async fn import(global: &Global, client: &Client, target: &Target, incoming: Vec<Incoming>) -> Result<()> {
    let mut plan = Vec::with_capacity(incoming.len());
    let comparing = progress(incoming.len() as u64, "comparing with the vault");
    for item in incoming {
        let action = match client.get_secret(&target.vault, &item.path, None).await {
            Ok(current) if current.value.expose() == item.value.as_slice() => Action::Keep,
            Ok(_) => Action::Change,
            Err(e) if e.status() == Some(404) => Action::Create,
            Err(e) => return Err(e).with_context(|| format!("reading {}/{} to compare", target.vault, item.path)),
        };
        plan.push((item, action));
        comparing.inc(1);
    }
    comparing.finish_and_clear();
    if !target.dry_run {
        let writes = plan.iter().filter(|(_, a)| *a != Action::Keep).count() as u64;
        let writing = progress(writes, "writing");
        for (item, action) in &plan {
            if *action == Action::Keep {
                continue;
            }
            let mut put = PutSecret::with_value(SecretValue::new(item.value.to_vec()));
            put.secret_type = Some(target.secret_type.clone());
            client
                .put_secret(&target.vault, &item.path, &put)
                .await
                .with_context(|| format!("writing {}/{} (from {})", target.vault, item.path, item.origin))?;
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
            .map(|(i, a)| serde_json::json!({ "path": i.path, "action": a.as_str(), "from": i.origin }))
            .collect();
        return output::json(&serde_json::json!({ "vault": target.vault, "dry_run": target.dry_run, "secrets": rows }));
    }
    let mut t = Table::new(vec!["ACTION", "SECRET", "FROM"]);
    for (i, a) in plan {
        t.row(vec![a.as_str().to_owned(), format!("{}/{}", target.vault, i.path), i.origin.clone()]);
    }
    print!("{}", t.render());
    let count = |want: Action| plan.iter().filter(|(_, a)| *a == want).count();
    let (create, change, keep) = (count(Action::Create), count(Action::Change), count(Action::Keep));
    if target.dry_run {
        println!("Dry run: {create} to create, {change} to change, {keep} unchanged; nothing was written.");
    } else {
        println!("Imported: {create} created, {change} changed, {keep} unchanged.");
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
