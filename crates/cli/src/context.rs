//! Where the CLI finds its server and credentials, in this order:
//! address: `--address`/`CLAWVAULT_ADDR`, the saved login, `http://127.0.0.1:8420`;
//! API key: `CLAWVAULT_API_KEY`, `--api-key-file`/`CLAWVAULT_API_KEY_FILE`, the saved login,
//! then the first admin key a local server wrote to its data directory
//! (`$CLAWVAULT_DATA_DIR` or `./clawvault-data`).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clawvault_client::Client;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::cli::Global;

/// Default server address.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:8420";
const CREDENTIALS_FILE: &str = "credentials.toml";

/// What `clawvault login` saves.
#[derive(Serialize, Deserialize)]
pub struct SavedLogin {
    /// Server address.
    pub address: String,
    /// API key.
    pub api_key: String,
}

impl Drop for SavedLogin {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.api_key);
    }
}

/// The CLI's configuration directory.
#[must_use]
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CLAWVAULT_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME") {
        return PathBuf::from(dir).join("clawvault");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".config").join("clawvault")
}

fn load_saved() -> Result<Option<SavedLogin>> {
    let path = config_dir().join(CREDENTIALS_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = Zeroizing::new(fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?);
    let saved = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid credentials file; run `clawvault login` again", path.display()))?;
    Ok(Some(saved))
}

/// Saves a login (mode 0600 in a 0700 directory).
///
/// # Errors
/// I/O failures.
pub fn save_login(login: &SavedLogin) -> Result<PathBuf> {
    let dir = config_dir();
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(CREDENTIALS_FILE);
    let text = Zeroizing::new(toml::to_string(login).context("encoding credentials")?);
    let tmp = dir.join(format!("{CREDENTIALS_FILE}.tmp"));
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, &path)?;
    Ok(path)
}

fn read_key_file(path: &Path) -> Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        fs::read_to_string(path).with_context(|| format!("reading the API key from {}", path.display()))?,
    );
    let key = Zeroizing::new(text.trim().to_owned());
    if key.is_empty() {
        bail!("{} is empty", path.display());
    }
    Ok(key)
}

fn local_admin_key() -> Option<PathBuf> {
    let dir = std::env::var_os("CLAWVAULT_DATA_DIR")
        .map_or_else(|| PathBuf::from(clawvault_server::config::DEFAULT_DATA_DIR), PathBuf::from);
    let path = dir.join(clawvault_server::ADMIN_KEY_FILE);
    path.is_file().then_some(path)
}

/// Builds a client from the global options.
///
/// # Errors
/// Unreadable key or CA files.
pub fn client(global: &Global) -> Result<Client> {
    let saved = load_saved()?;
    let address = global
        .address
        .clone()
        .or_else(|| saved.as_ref().map(|s| s.address.clone()))
        .unwrap_or_else(|| DEFAULT_ADDRESS.to_owned());
    let key: Option<Zeroizing<String>> = if let Some(k) = std::env::var_os("CLAWVAULT_API_KEY") {
        Some(Zeroizing::new(k.to_string_lossy().trim().to_owned()))
    } else if let Some(path) = &global.api_key_file {
        Some(read_key_file(path)?)
    } else if let Some(s) = saved.as_ref().filter(|s| s.address == address) {
        Some(Zeroizing::new(s.api_key.clone()))
    } else if let Some(path) = local_admin_key() {
        Some(read_key_file(&path)?)
    } else {
        None
    };
    build(global, &address, key.as_deref().map(String::as_str))
}

/// A client for `address` that sends no credentials (for opening a link share found elsewhere).
///
/// # Errors
/// An unreadable CA file.
pub fn anonymous(global: &Global, address: &str) -> Result<Client> {
    build(global, address, None)
}

fn build(global: &Global, address: &str, key: Option<&str>) -> Result<Client> {
    let mut builder = Client::builder(address);
    if let Some(k) = key {
        builder = builder.api_key(k);
    }
    if let Some(ca) = &global.ca_cert {
        builder = builder
            .ca_certificate_pem(fs::read(ca).with_context(|| format!("reading CA certificate {}", ca.display()))?);
    }
    Ok(builder.build()?)
}

/// The address commands talk to (for messages).
#[must_use]
pub fn address(global: &Global) -> String {
    global.address.clone().unwrap_or_else(|| DEFAULT_ADDRESS.to_owned())
}
