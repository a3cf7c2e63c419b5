//! Files that hold secret values, as `inject` and `sync` write them: replaced atomically (a
//! reader sees the old content or the new, never half), with their mode from the start (never
//! briefly readable by others), synced to disk; and a record of the files this machine's
//! CLI wrote, so that a file it did not write (or that was changed since) is not overwritten
//! unless asked.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::exit::Coded;

/// The record of written files, in the CLI's configuration directory.
const RECORD: &str = "written-files.json";

/// What identifies a file as written by this CLI and unchanged since: which inode it is and
/// its size and modification time (never anything derived from its content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = fs::symlink_metadata(path).ok()?;
    Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    })
}

fn record_path() -> PathBuf {
    crate::profile::config_dir().join(RECORD)
}

fn read_record() -> BTreeMap<PathBuf, Stamp> {
    fs::read(record_path()).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// Parses a mode such as `0600` or `400`.
///
/// # Errors
/// Not octal, or beyond `0777`.
pub fn parse_mode(raw: &str) -> Result<u32> {
    u32::from_str_radix(raw.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| Coded::invalid(format!("mode {raw:?} is not an octal file mode such as 0600")))
}

/// Refuses to replace `path` when it exists and this CLI did not write it as it is now.
///
/// # Errors
/// The file is someone else's (or changed since): give `--force`.
pub fn check_ours(path: &Path) -> Result<()> {
    let Some(now) = stamp(path) else { return Ok(()) };
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if read_record().get(&absolute) == Some(&now) {
        return Ok(());
    }
    Err(Coded::invalid(format!(
        "{} exists and was not written by clawvault (or was changed since): give --force to replace it",
        path.display()
    )))
}

/// Writes `bytes` to `path` atomically with `mode` (and, when given, owner and group).
///
/// # Errors
/// The directory is not writable, the disk is full.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, owner: Option<(Option<u32>, Option<u32>)>) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().context("the output names no file")?.to_string_lossy().into_owned();
    // Not guessable, so another user of the directory cannot take the name first.
    let mut nonce = [0u8; 8];
    clawvault_core::crypto::random_bytes(&mut nonce).map_err(|e| anyhow::anyhow!("{e}"))?;
    let suffix: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let temp = dir.join(format!(".{name}.clawvault-{suffix}"));
    let written = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(&temp)?;
        // The umask may have narrowed the mode: set it as asked.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&f, uid, gid)?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&temp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(anyhow::anyhow!("writing {}: {e}", path.display()));
    }
    Ok(())
}

/// Makes `dir` and its missing parents with mode 0700 (for what only this user may list).
///
/// # Errors
/// The parent is not writable.
pub fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Records `path`, as it is now, as written by this CLI (see [`check_ours`]).
pub fn remember(path: &Path) {
    remember_all(&[path]);
}

/// [`remember`] for many files, with one update of the record.
pub fn remember_all(paths: &[&Path]) {
    let mut record = read_record();
    for path in paths {
        let Some(now) = stamp(path) else { continue };
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        record.insert(absolute, now);
    }
    // Only files that still exist stay recorded.
    record.retain(|p, _| p.exists());
    let Ok(text) = serde_json::to_vec_pretty(&record) else { return };
    let file = record_path();
    if let Some(parent) = file.parent() {
        let _ = fs::create_dir_all(parent);
    }
    let _ = fs::write(file, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal() {
        assert_eq!(parse_mode("0600").unwrap(), 0o600);
        assert_eq!(parse_mode("400").unwrap(), 0o400);
        assert!(parse_mode("0800").is_err() && parse_mode("1777").is_err() && parse_mode("rw").is_err());
    }
}
