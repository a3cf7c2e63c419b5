//! The data directory: the SQLite database, the root key file and the first admin key, all
//! readable by the owner only.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clawvault_core::crypto::{DataKey, SoftwareRootKey};
use zeroize::Zeroizing;

use crate::error::ServerError;

const ROOT_KEY_FILE: &str = "root.key";
const DATABASE_FILE: &str = "clawvault.sqlite";
/// Name of the file that holds the first admin API key, for the local CLI.
pub const ADMIN_KEY_FILE: &str = "admin-key";
/// Name of the file where a started server writes the URL it listens on, for the local CLI.
pub const ADDRESS_FILE: &str = "address";
const ROOT_KEY_HEADER: &str = "clawvault-root-key-v1:";

/// An opened data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens `path`, creating it (mode 0700) if it does not exist. An existing directory that
    /// group or others may enter is tightened to 0700 (other local users could otherwise copy
    /// the database), with a warning; one this process cannot tighten is refused.
    ///
    /// # Errors
    /// [`ServerError::DataDir`] when it cannot be created, is not a directory, or stays open to
    /// others.
    pub fn open_or_create(path: &Path) -> Result<Self, ServerError> {
        if !path.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(|e| ServerError::DataDir(format!("cannot create {}: {e}", path.display())))?;
        } else if !path.is_dir() {
            return Err(ServerError::DataDir(format!("{} exists and is not a directory", path.display())));
        }
        let dir = Self { root: path.to_path_buf() };
        dir.keep_private(path, 0o700)?;
        Ok(dir)
    }

    /// Makes `path` accessible by its owner only (`mode`), warning when it was not.
    fn keep_private(&self, path: &Path, mode: u32) -> Result<(), ServerError> {
        let meta =
            fs::metadata(path).map_err(|e| ServerError::DataDir(format!("cannot stat {}: {e}", path.display())))?;
        let was = meta.permissions().mode() & 0o777;
        if was & 0o077 == 0 {
            return Ok(());
        }
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| {
            ServerError::DataDir(format!(
                "{} is accessible by other users (mode {was:03o}) and cannot be made private ({e}): run `chmod {mode:o} {}` as its owner",
                path.display(),
                path.display()
            ))
        })?;
        tracing::warn!(path = %path.display(), was = %format!("{was:03o}"), now = %format!("{mode:03o}"), "was accessible by other users: made private");
        Ok(())
    }

    /// Creates the database file readable by the owner only before SQLite does (SQLite gives
    /// its WAL and shared-memory files the database file's mode), and makes existing database
    /// files private.
    ///
    /// # Errors
    /// [`ServerError::DataDir`].
    pub fn secure_database(&self) -> Result<(), ServerError> {
        let db = self.database();
        if !db.exists() {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&db)
                .map_err(|e| ServerError::DataDir(format!("cannot create {}: {e}", db.display())))?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", db.display()));
            if file.exists() {
                self.keep_private(&file, 0o600)?;
            }
        }
        Ok(())
    }

    /// Opens an existing data directory without creating anything.
    ///
    /// # Errors
    /// [`ServerError::DataDir`] when it does not exist.
    pub fn open_existing(path: &Path) -> Result<Self, ServerError> {
        if !path.join(DATABASE_FILE).is_file() {
            return Err(ServerError::DataDir(format!(
                "{} is not a clawvault data directory (no {DATABASE_FILE}); pass the directory the server uses with --data-dir",
                path.display()
            )));
        }
        Ok(Self { root: path.to_path_buf() })
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The SQLite database file.
    #[must_use]
    pub fn database(&self) -> PathBuf {
        self.root.join(DATABASE_FILE)
    }

    /// The root key file.
    #[must_use]
    pub fn root_key_file(&self) -> PathBuf {
        self.root.join(ROOT_KEY_FILE)
    }

    /// The first admin key file.
    #[must_use]
    pub fn admin_key_file(&self) -> PathBuf {
        self.root.join(ADMIN_KEY_FILE)
    }

    /// The file holding the URL this server listens on.
    #[must_use]
    pub fn address_file(&self) -> PathBuf {
        self.root.join(ADDRESS_FILE)
    }

    /// Loads the root key file, creating one with a fresh random key if `create` and absent.
    ///
    /// # Errors
    /// [`ServerError::RootKey`] when the file is missing (and not created), unreadable,
    /// readable by others, or malformed.
    pub fn root_key(&self, create: bool) -> Result<SoftwareRootKey, ServerError> {
        let path = self.root_key_file();
        if !path.exists() {
            if !create {
                return Err(ServerError::RootKey(format!("{} does not exist", path.display())));
            }
            let key = DataKey::generate().map_err(|e| ServerError::RootKey(e.to_string()))?;
            let mut text = Zeroizing::new(String::from(ROOT_KEY_HEADER));
            STANDARD.encode_string(key.expose(), &mut text);
            text.push('\n');
            write_private(&path, text.as_bytes())?;
            return Ok(SoftwareRootKey::new(key));
        }
        load_root_key(&path)
    }
}

/// Loads a root key file that must exist (`root_key_file`: a mounted Kubernetes Secret, say).
///
/// # Errors
/// [`ServerError::RootKey`] when the file is missing, unreadable, readable by others, or
/// malformed.
pub fn load_root_key(path: &Path) -> Result<SoftwareRootKey, ServerError> {
    if !path.exists() {
        return Err(ServerError::RootKey(format!(
            "{} does not exist: every replica needs the root key the first server created",
            path.display()
        )));
    }
    check_private(path)?;
    let text = Zeroizing::new(
        fs::read_to_string(path).map_err(|e| ServerError::RootKey(format!("cannot read {}: {e}", path.display())))?,
    );
    let encoded = text
        .trim()
        .strip_prefix(ROOT_KEY_HEADER)
        .ok_or_else(|| ServerError::RootKey(format!("{} is not a clawvault root key file", path.display())))?;
    let raw = Zeroizing::new(
        STANDARD
            .decode(encoded)
            .map_err(|_| ServerError::RootKey(format!("{} is corrupt (not base64)", path.display())))?,
    );
    let key = DataKey::from_slice(&raw).map_err(|e| ServerError::RootKey(format!("{}: {e}", path.display())))?;
    Ok(SoftwareRootKey::new(key))
}

/// Refuses key files that group or others can read, as ssh does.
fn check_private(path: &Path) -> Result<(), ServerError> {
    let meta = fs::metadata(path).map_err(|e| ServerError::RootKey(format!("cannot stat {}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ServerError::RootKey(format!(
            "{} is accessible by other users (mode {mode:03o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Writes `bytes` to a new file readable only by the owner, durably, replacing nothing.
///
/// # Errors
/// [`ServerError::DataDir`].
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    let tmp = write_temporary(path, bytes)?;
    fs::hard_link(&tmp, path).map_err(|e| ServerError::DataDir(format!("cannot create {}: {e}", path.display())))?;
    let _ = fs::remove_file(&tmp);
    sync_parent(path);
    Ok(())
}

/// Writes `bytes` to `path` (mode 0600), replacing what was there in one step.
///
/// # Errors
/// [`ServerError::DataDir`] on I/O failure.
pub fn replace_private(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    let tmp = write_temporary(path, bytes)?;
    fs::rename(&tmp, path).map_err(|e| ServerError::DataDir(format!("cannot write {}: {e}", path.display())))?;
    sync_parent(path);
    Ok(())
}

fn write_temporary(path: &Path, bytes: &[u8]) -> Result<PathBuf, ServerError> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| ServerError::DataDir(format!("cannot create {}: {e}", tmp.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| ServerError::DataDir(format!("cannot write {}: {e}", tmp.display())))?;
    Ok(tmp)
}

fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent()
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clawvault_core::RootKey;

    #[test]
    fn root_key_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let dd = DataDir::open_or_create(&dir.path().join("data")).unwrap();
        assert_eq!(fs::metadata(dd.path()).unwrap().permissions().mode() & 0o777, 0o700);
        assert!(dd.root_key(false).is_err());
        let k1 = dd.root_key(true).unwrap();
        assert_eq!(fs::metadata(dd.root_key_file()).unwrap().permissions().mode() & 0o777, 0o600);
        let k2 = dd.root_key(true).unwrap();
        assert_eq!(k1.key_id(), k2.key_id());

        fs::set_permissions(dd.root_key_file(), fs::Permissions::from_mode(0o644)).unwrap();
        let err = dd.root_key(false).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
