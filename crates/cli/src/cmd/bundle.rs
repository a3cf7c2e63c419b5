//! `clawvault bundle export|install|inspect`: the secrets a host needs, one file per secret,
//! in an age-encrypted tar+zstd archive (`clawvault-bundle`). A new host boots from it as an
//! agenix host boots from its identity and `*.age` files; with an agent key inside, the
//! installed directory holds everything `clawvault sync` needs to start.

mod export;
mod install;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use clawvault_bundle::{Bundle, Identities};
use zeroize::Zeroizing;

use crate::cli::Global;
use crate::exit::Coded;
use crate::output::{self, Table};

pub use export::ExportArgs;
pub use install::InstallArgs;

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Write the secrets under a prefix to an age-encrypted bundle (one file per secret).
    #[command(after_help = "\
Examples:
  clawvault bundle export --vault prod --prefix hosts/web-1 --recipient age1q... -o web-1.bundle
  clawvault bundle export --vault prod --prefix hosts/web-1 --identity-out web-1.key \\
    --agent web-1 --server-address https://vault.example.com:8420 -o web-1.bundle

--identity-out makes a fresh age identity for the host (written 0600) and encrypts to it as
well; --agent creates an agent that may `use` the secrets under the prefix and puts its key in
the bundle, so that the installed directory starts `clawvault sync` by itself.
`age -d -i KEY web-1.bundle | zstd -dc | tar -t` lists the same files.")]
    Export(Box<ExportArgs>),
    /// Unpack a bundle into a directory: files 0600, directories 0700, checked first.
    #[command(after_help = "\
Examples:
  clawvault bundle install --identity /etc/clawvault/host.key --dir /var/lib/clawvault web-1.bundle
  clawvault sync --config /var/lib/clawvault/sync.toml --once

An archive made by hand installs too: tar --zstd -cf - secrets | age -r age1... > host.bundle.
Every entry is checked before the first file is written: a wrong identity, a damaged bundle or
an entry that is a link or leaves the directory stops the install with nothing written.")]
    Install(InstallArgs),
    /// List a bundle's files and where they came from, never their values.
    #[command(after_help = "\
Examples:
  clawvault bundle inspect --identity web-1.key web-1.bundle
  clawvault bundle inspect --identity web-1.key web-1.bundle --json")]
    Inspect {
        /// An age identity file that opens the bundle (repeat for several).
        #[arg(long, short = 'i', value_name = "FILE", required = true)]
        identity: Vec<PathBuf>,
        /// The bundle.
        bundle: PathBuf,
    },
}

/// Runs a `bundle` command.
///
/// # Errors
/// A bundle that cannot be opened (named), API errors, files that cannot be written.
pub async fn run(global: &Global, command: BundleCommand) -> Result<()> {
    match command {
        BundleCommand::Export(args) => export::run(global, *args).await,
        BundleCommand::Install(args) => install::run(global, &args),
        BundleCommand::Inspect { identity, bundle } => inspect(global, &identity, &bundle),
    }
}

/// Reads identity files (key material, kept zeroized).
///
/// # Errors
/// Unreadable, or not an age identity file.
pub fn identities(files: &[PathBuf]) -> Result<Identities> {
    let mut all: Option<Identities> = None;
    for f in files {
        let text = Zeroizing::new(std::fs::read(f).with_context(|| format!("reading the identity {}", f.display()))?);
        let ids = Identities::parse(&f.display().to_string(), &text).map_err(|e| Coded::invalid(e.to_string()))?;
        match &mut all {
            Some(a) => a.extend(ids),
            None => all = Some(ids),
        }
    }
    all.ok_or_else(|| Coded::invalid("give the age identity that opens it: --identity FILE"))
}

/// Opens and checks a bundle file.
///
/// # Errors
/// Unreadable, too large, or any [`clawvault_bundle::BundleError`], named with the file.
pub fn open(path: &Path, identities: &Identities) -> Result<Bundle> {
    let shown = path.display();
    let size = std::fs::metadata(path).with_context(|| format!("reading {shown}"))?.len();
    if size > clawvault_bundle::archive::MAX_BYTES {
        return Err(Coded::invalid(format!("{shown} is larger than a bundle can be")));
    }
    let sealed = std::fs::read(path).with_context(|| format!("reading {shown}"))?;
    Bundle::open(&sealed, identities).map_err(|e| Coded::invalid(format!("{shown}: {e}")))
}

fn inspect(global: &Global, identity: &[PathBuf], path: &Path) -> Result<()> {
    let bundle = open(path, &identities(identity)?)?;
    let files: Vec<serde_json::Value> =
        bundle.files.iter().map(|f| serde_json::json!({ "name": f.name, "bytes": f.contents.len() })).collect();
    if global.json {
        return output::json(&serde_json::json!({ "manifest": bundle.manifest, "files": files }));
    }
    if let Some(m) = &bundle.manifest {
        let mut rows = vec![
            ("Vault", m.vault.clone()),
            ("Prefix", if m.prefix.is_empty() { "(the whole vault)".to_owned() } else { m.prefix.clone() }),
            ("Created", output::short_time(&m.created_at)),
        ];
        if let Some(h) = &m.host {
            rows.push(("Agent", format!("{} ({}) at {}", h.agent, h.agent_id, h.address)));
        }
        print!("{}", output::fields(&rows));
        println!();
    }
    let mut t = Table::new(vec!["FILE", "BYTES", "SECRET", "VERSION", "TYPE"]);
    for f in &bundle.files {
        let from = bundle.manifest.as_ref().and_then(|m| m.secrets.iter().find(|s| s.file == f.name));
        let (secret, version, kind) = match (from, &bundle.manifest) {
            (Some(s), Some(m)) => (format!("{}/{}", m.vault, s.path), s.version.to_string(), s.secret_type.clone()),
            _ => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
        };
        t.row(vec![output::printable(&f.name), f.contents.len().to_string(), secret, version, kind]);
    }
    print!("{}", t.render());
    Ok(())
}
