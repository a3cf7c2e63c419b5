//! `clawvault bundle install`: opens and checks the whole bundle, checks every place it will
//! write, then writes each file atomically (0600; directories it makes 0700). With an agent
//! key inside, it also writes `sync.toml`, so that `clawvault sync --config DIR/sync.toml`
//! starts from the installed directory alone.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use clawvault_bundle::{Bundle, Host, Manifest};
use serde::Serialize;

use crate::cli::Global;
use crate::exit::Coded;
use crate::files;
use crate::output::{self, Table};

/// What to install, with which identity, where.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// An age identity file that opens the bundle (repeat for several).
    #[arg(long, short = 'i', value_name = "FILE", required = true)]
    identity: Vec<PathBuf>,
    /// The directory to install into (made 0700 when it does not exist).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Replace files that clawvault did not write (or that changed since).
    #[arg(long)]
    force: bool,
    /// The bundle.
    bundle: PathBuf,
}

/// The name of the daemon's configuration written beside a bundle's agent key.
const SYNC_CONFIG: &str = "sync.toml";

pub(super) fn run(global: &Global, args: &InstallArgs) -> Result<()> {
    let bundle = super::open(&args.bundle, &super::identities(&args.identity)?)?;
    let dir = prepare_dir(&args.dir)?;
    let sync = match bundle.manifest.as_ref().and_then(|m| m.host.as_ref().map(|h| (m, h))) {
        Some((m, h)) => Some(sync_config(&dir, m, h)?),
        None => None,
    };
    let mut planned: Vec<(PathBuf, &[u8])> =
        bundle.files.iter().map(|f| (dir.join(&f.name), f.contents.as_slice())).collect();
    if let Some(text) = &sync {
        planned.push((dir.join(SYNC_CONFIG), text.as_bytes()));
    }
    for (path, _) in &planned {
        check_place(&dir, path, args.force)?;
    }
    for (path, bytes) in &planned {
        make_parents(&dir, path)?;
        files::write_atomic(path, bytes, 0o600, None)?;
    }
    files::remember_all(&planned.iter().map(|(p, _)| p.as_path()).collect::<Vec<_>>());
    report(global, &dir, &bundle, sync.is_some())
}

/// The install directory, made 0700 if missing; an existing one must be a directory of this
/// user that no one else may write into (or they could swap files under it).
fn prepare_dir(dir: &Path) -> Result<PathBuf> {
    match dir.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            files::make_private_dir(dir).with_context(|| format!("making {}", dir.display()))?;
        }
        Err(e) => return Err(Coded::invalid(format!("{}: {e}", dir.display()))),
        Ok(m) if !m.is_dir() => {
            return Err(Coded::invalid(format!("{} is not a directory", dir.display())));
        }
        Ok(m) => private_enough(dir, &m)?,
    }
    dir.canonicalize().with_context(|| format!("reading {}", dir.display()))
}

/// Refuses a place that is a directory or a link, under a directory another user owns or may
/// write into, or a file clawvault did not write.
fn check_place(dir: &Path, path: &Path, force: bool) -> Result<()> {
    let mut at = dir.to_path_buf();
    let relative = path.strip_prefix(dir).unwrap_or(path);
    let parts: Vec<_> = relative.components().collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        let m = match at.symlink_metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Coded::invalid(format!("{}: {e}", at.display()))),
        };
        let last = i + 1 == parts.len();
        if m.file_type().is_symlink() {
            return Err(Coded::invalid(format!("{} is a link; remove it first", at.display())));
        }
        if last && m.is_dir() {
            return Err(Coded::invalid(format!("{} is a directory; the bundle holds a file there", at.display())));
        }
        if !last && !m.is_dir() {
            return Err(Coded::invalid(format!("{} is a file; the bundle needs a directory there", at.display())));
        }
        if !last {
            private_enough(&at, &m)?;
        }
    }
    if !force {
        files::check_ours(path)?;
    }
    Ok(())
}

/// A directory files are installed in: this user's, and writable by no one else (or they
/// could swap files under it).
fn private_enough(dir: &Path, m: &std::fs::Metadata) -> Result<()> {
    let me = rustix::process::geteuid().as_raw();
    if m.uid() != me || m.permissions().mode() & 0o022 != 0 {
        return Err(Coded::invalid(format!(
            "{} must belong to this user and be writable by no one else (chmod go-w)",
            dir.display()
        )));
    }
    Ok(())
}

fn make_parents(dir: &Path, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| *p != dir) {
        files::make_private_dir(parent).with_context(|| format!("making {}", parent.display()))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct SyncConfig {
    address: String,
    key_file: PathBuf,
    cache_dir: PathBuf,
    file: Vec<SyncFile>,
}

#[derive(Serialize)]
struct SyncFile {
    path: PathBuf,
    secret: String,
    mode: String,
}

/// The daemon's configuration: the agent key and every secret file of the bundle, kept
/// where the install put them.
fn sync_config(dir: &Path, m: &Manifest, host: &Host) -> Result<String> {
    let config = SyncConfig {
        address: host.address.clone(),
        key_file: dir.join(&host.key_file),
        cache_dir: dir.join("cache"),
        file: m
            .secrets
            .iter()
            .map(|s| SyncFile {
                path: dir.join(&s.file),
                secret: format!("{}/{}", m.vault, s.path),
                mode: "0600".to_owned(),
            })
            .collect(),
    };
    let text = toml::to_string(&config).context("writing sync.toml")?;
    Ok(format!(
        "# Written by clawvault bundle install: clawvault sync --config {}\n{text}",
        dir.join(SYNC_CONFIG).display()
    ))
}

fn report(global: &Global, dir: &Path, bundle: &Bundle, sync: bool) -> Result<()> {
    let config = sync.then(|| dir.join(SYNC_CONFIG));
    if global.json {
        let names: Vec<&str> = bundle.files.iter().map(|f| f.name.as_str()).collect();
        return output::json(&serde_json::json!({ "dir": dir, "files": names, "sync_config": config }));
    }
    let mut t = Table::new(vec!["FILE", "BYTES"]);
    for f in &bundle.files {
        t.row(vec![output::printable(&dir.join(&f.name).display().to_string()), f.contents.len().to_string()]);
    }
    print!("{}", t.render());
    println!("Installed {} files in {} (files 0600).", bundle.files.len(), dir.display());
    if let (Some(c), Some(h)) = (config, bundle.manifest.as_ref().and_then(|m| m.host.as_ref())) {
        println!("The daemon will use agent {} at {}.", output::printable(&h.agent), output::printable(&h.address));
        println!("Start the daemon: clawvault sync --config {}", c.display());
    }
    Ok(())
}
