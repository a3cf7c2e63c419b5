//! agenix's `*.age` files: each decrypted whole (binary or armored) before anything is
//! written; one secret per file, named by the file without `.age`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clawvault_bundle::{Identities, crypt};

use super::Incoming;
use crate::exit::Coded;

/// An age file larger than this is not a secret.
const MAX_FILE: u64 = 16 * 1024 * 1024;

pub(super) fn read(identities: &Identities, files: &[PathBuf], prefix: Option<&str>) -> Result<Vec<Incoming>> {
    let mut out: Vec<Incoming> = Vec::with_capacity(files.len());
    for file in files {
        let shown = file.display().to_string();
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy())
            .map(|n| n.strip_suffix(".age").unwrap_or(&n).to_owned())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Coded::invalid(format!("{shown} names no file")))?;
        if std::fs::metadata(file).with_context(|| format!("reading {shown}"))?.len() > MAX_FILE {
            return Err(Coded::invalid(format!("{shown} is larger than 16 MiB, more than a secret holds")));
        }
        let sealed = std::fs::read(file).with_context(|| format!("reading {shown}"))?;
        let value = crypt::open(&sealed, identities).map_err(|e| Coded::invalid(format!("{shown}: {e}")))?;
        let path = super::place(prefix, &name, &shown)?;
        if let Some(other) = out.iter().find(|i| i.path == path) {
            return Err(Coded::invalid(format!("{shown} and {} would both become {path}", other.origin)));
        }
        out.push(Incoming::new(path, value, shown));
    }
    Ok(out)
}
