//! Saved logins: `profiles.toml` in the CLI's configuration directory, one table per profile
//! (address, API key, and the CA certificate to trust), mode 0600 in a 0700 directory.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::exit::Coded;

/// The profile used when neither `--profile` nor `CLAWVAULT_PROFILE` names one.
pub const DEFAULT_PROFILE: &str = "default";
const PROFILES_FILE: &str = "profiles.toml";
/// Held while the profiles file is read, changed and written.
const LOCK_FILE: &str = "profiles.lock";
/// What versions before profiles saved (one login); read as the default profile.
const LEGACY_FILE: &str = "credentials.toml";

/// One saved login.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Server address.
    pub address: String,
    /// The API key (`1ck_` or `ocv_`).
    pub api_key: String,
    /// The PEM certificate (a CA, or the server's own self-signed one) trusted for this server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
}

impl Drop for Profile {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.api_key);
    }
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile").field("address", &self.address).finish_non_exhaustive()
    }
}

/// The CLI's configuration directory: `$CLAWVAULT_CONFIG_DIR`, else
/// `$XDG_CONFIG_HOME/clawvault`, else `~/.config/clawvault`.
#[must_use]
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CLAWVAULT_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("clawvault");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".config").join("clawvault")
}

/// The file profiles are saved in.
#[must_use]
pub fn profiles_file() -> PathBuf {
    config_dir().join(PROFILES_FILE)
}

/// Checks a profile name: letters, digits, `-` and `_`, at most 64.
///
/// # Errors
/// Invalid input.
pub fn check_name(name: &str) -> Result<()> {
    let ok =
        !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Coded::invalid(format!(
            "{name:?} is not a profile name: use letters, digits, - and _ (at most 64), like staging"
        )))
    }
}

/// Every saved profile, by name.
#[derive(Default)]
pub struct Profiles(BTreeMap<String, Profile>);

impl Profiles {
    /// Reads the profiles file (and a login saved before profiles existed, as `default`).
    ///
    /// # Errors
    /// An unreadable or malformed file, or one others may read.
    pub fn load() -> Result<Self> {
        let dir = config_dir();
        let mut profiles = BTreeMap::new();
        let path = dir.join(PROFILES_FILE);
        if let Some(text) = read_private(&path)? {
            profiles = toml::from_str(&text).map_err(|e| {
                Coded::invalid(format!(
                    "{} is not a valid profiles file ({}): fix it, or delete it and run `clawvault login` again",
                    path.display(),
                    e.message()
                ))
            })?;
        }
        if !profiles.contains_key(DEFAULT_PROFILE)
            && let Some(text) = read_private(&dir.join(LEGACY_FILE))?
            && let Ok(legacy) = toml::from_str::<Profile>(&text)
        {
            profiles.insert(DEFAULT_PROFILE.to_owned(), legacy);
        }
        Ok(Self(profiles))
    }

    /// The profile called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.0.get(name)
    }

    /// Names of the saved profiles.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Adds or replaces a profile; returns the file's path.
    ///
    /// # Errors
    /// I/O failures.
    pub fn save(name: &str, profile: Profile) -> Result<PathBuf> {
        Self::update(|p| {
            p.0.insert(name.to_owned(), profile);
            true
        })
        .map(|(_, path)| path)
    }

    /// Adds a profile only if none has the name (a login made meanwhile stays); returns the
    /// file's path, or `None` when the name was taken.
    ///
    /// # Errors
    /// I/O failures.
    pub fn save_new(name: &str, profile: Profile) -> Result<Option<PathBuf>> {
        let (added, path) = Self::update(|p| {
            if p.0.contains_key(name) {
                return false;
            }
            p.0.insert(name.to_owned(), profile);
            true
        })?;
        Ok(added.then_some(path))
    }

    /// Removes a profile; false when there was none.
    ///
    /// # Errors
    /// I/O failures.
    pub fn remove(name: &str) -> Result<bool> {
        let (removed, _) = Self::update(|p| p.0.remove(name).is_some())?;
        // A login saved before profiles would come back as `default` on the next load.
        if name == DEFAULT_PROFILE {
            let legacy = config_dir().join(LEGACY_FILE);
            if legacy.exists() {
                fs::remove_file(&legacy).with_context(|| format!("removing {}", legacy.display()))?;
                return Ok(true);
            }
        }
        Ok(removed)
    }

    /// Reads, changes with `change` (which says whether it changed anything) and writes the
    /// file under a lock, so that two commands saving at once lose neither's profile.
    fn update(change: impl FnOnce(&mut Self) -> bool) -> Result<(bool, PathBuf)> {
        let dir = private_dir()?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        lock.lock().with_context(|| format!("locking {}", lock_path.display()))?;
        let mut profiles = Self::load()?;
        let changed = change(&mut profiles);
        let path = if changed { profiles.write()? } else { dir.join(PROFILES_FILE) };
        drop(lock);
        Ok((changed, path))
    }

    /// Writes the whole file atomically, 0600 in a 0700 directory (under the lock).
    fn write(&self) -> Result<PathBuf> {
        let dir = private_dir()?;
        let path = dir.join(PROFILES_FILE);
        let text = Zeroizing::new(toml::to_string(&self.0).context("encoding the profiles")?);
        let tmp = dir.join(format!("{PROFILES_FILE}.{}.tmp", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

/// The configuration directory, made 0700 if it does not exist.
fn private_dir() -> Result<PathBuf> {
    let dir = config_dir();
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A file holding keys, refused when group or others may read it (as ssh does).
fn read_private(path: &Path) -> Result<Option<Zeroizing<String>>> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(Coded::invalid(format!(
            "{} holds API keys but others may read it: run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(Zeroizing::new(text)))
}
