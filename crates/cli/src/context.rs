//! Where the CLI finds its server, key and CA certificate. One rule for each: a flag, then the
//! environment, then files (the profile, then the local server's data directory), then the
//! built-in default. A saved key or certificate is only used for the address it was saved for,
//! so pointing a command at another server never sends it a key meant for this one.
//!
//! | what | flag | environment | files |
//! | --- | --- | --- | --- |
//! | profile | `--profile` | `CLAWVAULT_PROFILE` | `default` |
//! | address | `--address` | `CLAWVAULT_ADDR` | profile, local server, `http://127.0.0.1:8420` |
//! | API key | `--api-key-file` | `CLAWVAULT_API_KEY`, then `CLAWVAULT_API_KEY_FILE` | profile, local server's admin key |
//! | CA certificate | `--ca-cert` | `CLAWVAULT_CACERT` | profile |

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clawvault_client::Client;
use zeroize::Zeroizing;

use crate::cli::Global;
use crate::exit::Coded;
use crate::profile::{self, DEFAULT_PROFILE, Profiles};

/// Default server address.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:8420";

/// Where a setting came from (what `clawvault whoami` reports, and errors name).
#[derive(Debug, Clone)]
pub enum Source {
    /// A command-line flag.
    Flag(&'static str, Option<PathBuf>),
    /// An environment variable.
    Env(&'static str, Option<PathBuf>),
    /// A saved profile.
    Profile(String),
    /// The data directory of a server on this machine.
    LocalServer(PathBuf),
    /// Nothing was configured.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag(flag, None) => write!(f, "{flag}"),
            Self::Flag(flag, Some(p)) => write!(f, "{flag} {}", p.display()),
            Self::Env(var, None) => write!(f, "${var}"),
            Self::Env(var, Some(p)) => write!(f, "${var} ({})", p.display()),
            Self::Profile(name) => write!(f, "profile {name} ({})", profile::profiles_file().display()),
            Self::LocalServer(dir) => write!(f, "the local server's data directory ({})", dir.display()),
            Self::Default => f.write_str("the default"),
        }
    }
}

/// The server a command talks to and the credentials it uses, with their sources.
pub struct Target {
    /// The profile in effect.
    pub profile: String,
    /// Server address.
    pub address: String,
    /// Where the address came from.
    pub address_from: Source,
    /// The API key, with where it came from.
    pub key: Option<(Zeroizing<String>, Source)>,
    /// The trusted certificate (PEM), with where it came from.
    pub ca: Option<(Vec<u8>, Source)>,
}

impl Target {
    /// Works out the target from flags, environment and files.
    ///
    /// # Errors
    /// A named profile that does not exist; unreadable key, certificate or profile files.
    pub fn resolve(global: &Global) -> Result<Self> {
        Self::resolve_with(global, false)
    }

    /// [`Target::resolve`], where a profile that does not exist yet is no error when
    /// `new_profile` (for `clawvault login`).
    ///
    /// # Errors
    /// As [`Target::resolve`].
    pub fn resolve_with(global: &Global, new_profile: bool) -> Result<Self> {
        let (profile_name, profile_named) = profile_name(global)?;
        let profiles = Profiles::load()?;
        let saved = profiles.get(&profile_name);
        if saved.is_none() && profile_named && !new_profile {
            let known: Vec<&str> = profiles.names().collect();
            let known = if known.is_empty() { "none yet".to_owned() } else { known.join(", ") };
            return Err(Coded::unauthenticated(format!(
                "no profile {profile_name:?} (saved profiles: {known}): create it with \
                 `clawvault login --profile {profile_name} --address URL`"
            )));
        }
        let local = LocalServer::find();

        let (address, address_from) = if let Some(a) = &global.address {
            (a.clone(), Source::Flag("--address", None))
        } else if let Some(a) = env("CLAWVAULT_ADDR") {
            (a, Source::Env("CLAWVAULT_ADDR", None))
        } else if let Some(p) = saved {
            (p.address.clone(), Source::Profile(profile_name.clone()))
        } else if let Some(l) = &local {
            (l.address.clone(), Source::LocalServer(l.dir.clone()))
        } else {
            (DEFAULT_ADDRESS.to_owned(), Source::Default)
        };
        let address = address.trim_end_matches('/').to_owned();
        let saved = saved.filter(|p| same_address(&p.address, &address));

        let key = if let Some(path) = &global.api_key_file {
            Some((read_key_file(path)?, Source::Flag("--api-key-file", Some(path.clone()))))
        } else if let Some(k) = env("CLAWVAULT_API_KEY") {
            Some((Zeroizing::new(k.trim().to_owned()), Source::Env("CLAWVAULT_API_KEY", None)))
        } else if let Some(path) = env("CLAWVAULT_API_KEY_FILE").map(PathBuf::from) {
            Some((read_key_file(&path)?, Source::Env("CLAWVAULT_API_KEY_FILE", Some(path))))
        } else if let Some(p) = saved {
            Some((Zeroizing::new(p.api_key.clone()), Source::Profile(profile_name.clone())))
        } else if let Some(l) = local.as_ref().filter(|l| same_address(&l.address, &address)) {
            Some((read_key_file(&l.admin_key)?, Source::LocalServer(l.dir.clone())))
        } else {
            None
        };

        let ca = if let Some(path) = &global.ca_cert {
            Some((read_ca(path)?, Source::Flag("--ca-cert", Some(path.clone()))))
        } else if let Some(path) = env("CLAWVAULT_CACERT").map(PathBuf::from) {
            Some((read_ca(&path)?, Source::Env("CLAWVAULT_CACERT", Some(path))))
        } else {
            saved.and_then(|p| p.ca_cert.clone()).map(|pem| (pem.into_bytes(), Source::Profile(profile_name.clone())))
        };
        Ok(Self { profile: profile_name, address, address_from, key, ca })
    }

    /// A client of the target, with its key.
    ///
    /// # Errors
    /// A malformed address or certificate.
    pub fn client(&self) -> Result<Client> {
        self.build(&self.address, self.key.as_ref().map(|(k, _)| k.as_str()))
    }

    /// The API key in effect, if any (to mask it wherever it could be echoed).
    #[must_use]
    pub fn key_text(&self) -> Option<Zeroizing<String>> {
        self.key.as_ref().map(|(k, _)| k.clone())
    }

    /// A client of the target that sends `key` instead of the configured one.
    ///
    /// # Errors
    /// A malformed address or certificate.
    pub fn client_with_key(&self, key: &str) -> Result<Client> {
        self.build(&self.address, Some(key))
    }

    /// A client for `address` that sends no credentials (for opening a link share found
    /// elsewhere).
    ///
    /// # Errors
    /// A malformed address or certificate.
    pub fn anonymous(&self, address: &str) -> Result<Client> {
        self.build(address, None)
    }

    fn build(&self, address: &str, key: Option<&str>) -> Result<Client> {
        let mut builder = Client::builder(address);
        if let Some(k) = key {
            builder = builder.api_key(k);
        }
        if let Some((pem, _)) = &self.ca {
            builder = builder.ca_certificate_pem(pem.clone());
        }
        builder.build().map_err(|e| Coded::invalid(e.to_string()))
    }
}

/// A client of the server the global options point at.
///
/// # Errors
/// See [`Target::resolve`].
pub fn client(global: &Global) -> Result<Client> {
    Target::resolve(global)?.client()
}

/// A server on this machine, found through the data directory it would use by default (or
/// `$CLAWVAULT_DATA_DIR`): the address it wrote there when it started, and its first admin key.
pub struct LocalServer {
    /// The data directory.
    pub dir: PathBuf,
    /// The address it listens on, as a URL.
    pub address: String,
    /// Its first admin key file.
    pub admin_key: PathBuf,
}

impl LocalServer {
    fn find() -> Option<Self> {
        let dir = env("CLAWVAULT_DATA_DIR").map_or_else(clawvault_server::config::default_data_dir, PathBuf::from);
        let text = fs::read_to_string(dir.join(clawvault_server::ADDRESS_FILE)).ok()?;
        let mut lines = text.lines();
        let address = lines.next()?.trim().to_owned();
        // Written by a server that no longer runs (killed before it could remove the file):
        // whoever listens on that port now is not it.
        let pid: u32 = lines.next()?.trim().parse().ok()?;
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return None;
        }
        // Only a loopback address: whoever could point this file elsewhere must not collect the
        // admin key with it.
        if !clawvault_client::is_loopback_address(&address) {
            return None;
        }
        let admin_key = dir.join(clawvault_server::ADMIN_KEY_FILE);
        admin_key.is_file().then_some(Self { dir, address, admin_key })
    }
}

fn same_address(a: &str, b: &str) -> bool {
    a.trim_end_matches('/').eq_ignore_ascii_case(b.trim_end_matches('/'))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The profile in effect (`--profile`, then `CLAWVAULT_PROFILE`, then `default`), and whether
/// one was named.
///
/// # Errors
/// A name that is not a profile name.
pub fn profile_name(global: &Global) -> Result<(String, bool)> {
    let (name, named) = match (&global.profile, env("CLAWVAULT_PROFILE")) {
        (Some(p), _) => (p.clone(), true),
        (None, Some(p)) => (p, true),
        (None, None) => (DEFAULT_PROFILE.to_owned(), false),
    };
    profile::check_name(&name)?;
    Ok((name, named))
}

/// An API key from a file, trimmed.
///
/// # Errors
/// An unreadable or empty file.
pub fn read_key_file(path: &Path) -> Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        fs::read_to_string(path)
            .map_err(|e| Coded::invalid(format!("cannot read the API key from {}: {e}", path.display())))?,
    );
    let key = Zeroizing::new(text.trim().to_owned());
    if key.is_empty() {
        return Err(Coded::invalid(format!("{} is empty: it should hold an API key (1ck_… or ocv_…)", path.display())));
    }
    Ok(key)
}

fn read_ca(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("reading the CA certificate {}", path.display()))
}
