//! The sync daemon's configuration file (TOML), checked whole at start: every problem named
//! with what to write instead.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Deserialize;

use crate::exit::Coded;
use crate::files;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    address: String,
    key_file: PathBuf,
    cache_dir: PathBuf,
    #[serde(default)]
    consumer: Option<String>,
    #[serde(default)]
    ca_cert: Option<PathBuf>,
    #[serde(default, rename = "file")]
    files: Vec<RawFile>,
    #[serde(default, rename = "template")]
    templates: Vec<RawTemplate>,
    #[serde(default)]
    credential_socket: Option<PathBuf>,
    #[serde(default, rename = "credential")]
    credentials: Vec<RawCredential>,
    #[serde(default, rename = "github_token")]
    github_tokens: Vec<RawGithubToken>,
}

/// A GitHub installation token minted from a `github_app` secret, written where `gh`, `git`
/// and bots read it, and replaced before it expires.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGithubToken {
    secret: String,
    #[serde(default)]
    env_file: Option<PathBuf>,
    #[serde(default)]
    gh_hosts: Option<PathBuf>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    repositories: Vec<String>,
    #[serde(default)]
    permissions: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    on_change: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    unit: String,
    id: String,
    secret: String,
    #[serde(default)]
    field: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    path: PathBuf,
    secret: String,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    on_change: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    source: PathBuf,
    path: PathBuf,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    on_change: Option<String>,
}

/// What one output renders.
#[derive(Debug, Clone)]
pub enum Content {
    /// One secret (or one field of it).
    Secret {
        /// Vault name or id.
        vault: String,
        /// Path.
        path: String,
        /// A field of a JSON or env-bundle secret.
        field: Option<String>,
    },
    /// A template of `{{ cv://… }}` references.
    Template(clawvault_core::template::Template),
    /// An installation token minted from a `github_app` secret.
    GithubToken {
        /// Vault name or id.
        vault: String,
        /// Path of the `github_app` secret.
        path: String,
        /// What the token may reach.
        request: clawvault_client::TokenRequest,
        /// How it is written.
        form: TokenForm,
    },
}

/// How a minted token is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenForm {
    /// `GITHUB_TOKEN=…` and `GH_TOKEN=…` lines, for an `EnvironmentFile=`.
    Env,
    /// `gh`'s `hosts.yml`, for this host (`github.com`).
    GhHosts(String),
}

/// One file the daemon keeps.
#[derive(Debug, Clone)]
pub struct Output {
    /// Where.
    pub path: PathBuf,
    /// What.
    pub content: Content,
    /// Its mode.
    pub mode: u32,
    /// Its owner and group, when set.
    pub owner: Option<(Option<u32>, Option<u32>)>,
    /// A `sh -c` command line run when its bytes change.
    pub on_change: Option<String>,
    /// Served on the credential socket to this (unit, credential id) instead of written.
    pub credential: Option<(String, String)>,
}

impl Output {
    /// The secrets it reads, as (vault, path).
    #[must_use]
    pub fn secrets(&self) -> Vec<(String, String)> {
        match &self.content {
            Content::Secret { vault, path, .. } => vec![(vault.clone(), path.clone())],
            Content::Template(t) => t.references().iter().map(|r| (r.vault.clone(), r.path.clone())).collect(),
            Content::GithubToken { vault, path, .. } => vec![(vault.clone(), path.clone())],
        }
    }
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server.
    pub address: String,
    /// The agent key's file.
    pub key_file: PathBuf,
    /// Where the encrypted offline cache lives.
    pub cache_dir: PathBuf,
    /// The name this daemon has in the fleet view.
    pub consumer: String,
    /// A CA certificate to trust.
    pub ca_cert: Option<PathBuf>,
    /// The files (and credentials).
    pub outputs: Vec<Output>,
    /// The socket systemd's `LoadCredential=` reads credentials from.
    pub credential_socket: Option<PathBuf>,
}

/// A user's or group's id by name (or number), from the system's databases.
fn id_of(database: &str, name: &str) -> Option<u32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    std::fs::read_to_string(database).ok()?.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then(|| f.nth(1)?.parse().ok())?
    })
}

fn ownership(
    owner: Option<&str>,
    group: Option<&str>,
    problems: &mut Vec<String>,
    at: &str,
) -> Option<(Option<u32>, Option<u32>)> {
    if owner.is_none() && group.is_none() {
        return None;
    }
    let uid = owner.and_then(|o| {
        let id = id_of("/etc/passwd", o);
        if id.is_none() {
            problems.push(format!("{at}: no user {o:?} on this machine"));
        }
        id
    });
    let gid = group.and_then(|g| {
        let id = id_of("/etc/group", g);
        if id.is_none() {
            problems.push(format!("{at}: no group {g:?} on this machine"));
        }
        id
    });
    Some((uid, gid))
}

/// Reads and checks the file at `path`.
///
/// # Errors
/// Every problem found, listed.
pub fn load(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Coded::invalid(format!("cannot read the sync configuration {}: {e}", path.display())))?;
    let raw: Raw =
        toml::from_str(&text).map_err(|e| Coded::invalid(format!("{}: {}", path.display(), e.message().trim())))?;
    let mut problems = Vec::new();
    let mut outputs = Vec::new();
    let mode_of =
        |raw: Option<&str>, problems: &mut Vec<String>, at: &str| match files::parse_mode(raw.unwrap_or("0400")) {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("{at}: {e}"));
                0o400
            }
        };
    for (i, f) in raw.files.iter().enumerate() {
        let at = format!("file {} ({})", i + 1, f.path.display());
        let content = match f.secret.split_once('/') {
            Some((vault, path)) if !vault.is_empty() && clawvault_core::SecretPath::parse(path).is_ok() => {
                Content::Secret { vault: vault.to_owned(), path: path.to_owned(), field: f.field.clone() }
            }
            _ => {
                problems.push(format!("{at}: secret {:?} is not VAULT/PATH such as prod/bots/discord", f.secret));
                continue;
            }
        };
        let mode = mode_of(f.mode.as_deref(), &mut problems, &at);
        let owner = ownership(f.owner.as_deref(), f.group.as_deref(), &mut problems, &at);
        outputs.push(Output {
            path: f.path.clone(),
            content,
            mode,
            owner,
            on_change: f.on_change.clone(),
            credential: None,
        });
    }
    for (i, t) in raw.templates.iter().enumerate() {
        let at = format!("template {} ({})", i + 1, t.source.display());
        let template = match std::fs::read_to_string(&t.source) {
            Ok(text) => match clawvault_core::template::Template::parse(&text) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("{at}: {e}"));
                    continue;
                }
            },
            Err(e) => {
                problems.push(format!("{at}: cannot read it: {e}"));
                continue;
            }
        };
        let mode = mode_of(t.mode.as_deref(), &mut problems, &at);
        let owner = ownership(t.owner.as_deref(), t.group.as_deref(), &mut problems, &at);
        outputs.push(Output {
            path: t.path.clone(),
            content: Content::Template(template),
            mode,
            owner,
            on_change: t.on_change.clone(),
            credential: None,
        });
    }
    for (i, c) in raw.credentials.iter().enumerate() {
        let at = format!("credential {} ({} of {})", i + 1, c.id, c.unit);
        if raw.credential_socket.is_none() {
            problems.push(format!("{at}: set credential_socket, the socket LoadCredential= names"));
        }
        let name_ok = |n: &str| !n.is_empty() && !n.contains('/') && !n.chars().any(char::is_control);
        if !name_ok(&c.unit) || !name_ok(&c.id) {
            problems.push(format!("{at}: unit and id must be names without `/`, as systemd writes them"));
            continue;
        }
        let Some((vault, path)) =
            c.secret.split_once('/').filter(|(v, p)| !v.is_empty() && clawvault_core::SecretPath::parse(p).is_ok())
        else {
            problems.push(format!("{at}: secret {:?} is not VAULT/PATH such as prod/bots/discord", c.secret));
            continue;
        };
        outputs.push(Output {
            path: PathBuf::from(format!("credential:{}/{}", c.unit, c.id)),
            content: Content::Secret { vault: vault.to_owned(), path: path.to_owned(), field: c.field.clone() },
            mode: 0o400,
            owner: None,
            on_change: None,
            credential: Some((c.unit.clone(), c.id.clone())),
        });
    }
    for (i, g) in raw.github_tokens.iter().enumerate() {
        let at = format!("github_token {} ({})", i + 1, g.secret);
        let Some((vault, path)) =
            g.secret.split_once('/').filter(|(v, p)| !v.is_empty() && clawvault_core::SecretPath::parse(p).is_ok())
        else {
            problems.push(format!("{at}: secret {:?} is not VAULT/PATH such as prod/github/app", g.secret));
            continue;
        };
        let narrowing = clawvault_core::github_app::Narrowing {
            repositories: g.repositories.clone(),
            permissions: g.permissions.clone(),
        };
        if let Err(e) = narrowing.normalise() {
            problems.push(format!("{at}: {e}"));
        }
        let host = g.host.clone().unwrap_or_else(|| "github.com".to_owned());
        if host.is_empty() || !host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c)) {
            problems.push(format!("{at}: host {host:?} is not a host name such as github.com"));
        }
        let mut forms = Vec::new();
        if let Some(p) = &g.env_file {
            forms.push((p.clone(), TokenForm::Env));
        }
        if let Some(p) = &g.gh_hosts {
            forms.push((p.clone(), TokenForm::GhHosts(host.clone())));
        }
        if forms.is_empty() {
            problems.push(format!("{at}: say where to write it: env_file, gh_hosts or both"));
        }
        let mode = mode_of(g.mode.as_deref(), &mut problems, &at);
        let owner = ownership(g.owner.as_deref(), g.group.as_deref(), &mut problems, &at);
        let request =
            clawvault_client::TokenRequest { repositories: g.repositories.clone(), permissions: g.permissions.clone() };
        for (file, form) in forms {
            outputs.push(Output {
                path: file,
                content: Content::GithubToken {
                    vault: vault.to_owned(),
                    path: path.to_owned(),
                    request: request.clone(),
                    form,
                },
                mode,
                owner,
                on_change: g.on_change.clone(),
                credential: None,
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    for o in &outputs {
        if !seen.insert(o.path.clone()) {
            problems.push(format!("{} is written by two entries: give each its own path", o.path.display()));
        }
    }
    if outputs.is_empty() && problems.is_empty() {
        problems.push("no [[file]], [[template]] or [[github_token]] entries: name what to write".into());
    }
    if !problems.is_empty() {
        return Err(Coded::invalid(format!(
            "{} has {} problem(s):\n  - {}",
            path.display(),
            problems.len(),
            problems.join("\n  - ")
        )));
    }
    Ok(Config {
        address: raw.address.trim_end_matches('/').to_owned(),
        key_file: raw.key_file,
        cache_dir: raw.cache_dir,
        consumer: raw.consumer.unwrap_or_else(|| "sync".to_owned()),
        ca_cert: raw.ca_cert,
        outputs,
        credential_socket: raw.credential_socket,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.toml");
        std::fs::write(
            &path,
            "address = \"http://127.0.0.1:8420\"\nkey_file = \"k\"\ncache_dir = \"c\"\n\
             [[file]]\npath = \"/run/a\"\nsecret = \"nope\"\n\
             [[file]]\npath = \"/run/b\"\nsecret = \"prod/b\"\nmode = \"999\"\nowner = \"no-such-user-here\"\n\
             [[file]]\npath = \"/run/b\"\nsecret = \"prod/c\"\n\
             [[template]]\nsource = \"/nonexistent.tpl\"\npath = \"/run/t\"\n",
        )
        .unwrap();
        let e = load(&path).unwrap_err().to_string();
        for needle in ["VAULT/PATH", "octal", "no user", "two entries", "cannot read it"] {
            assert!(e.contains(needle), "{needle}: {e}");
        }
        std::fs::write(&path, "address = \"x\"\nkey_file = \"k\"\ncache_dir = \"c\"\nfiles = 3\n").unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("files"));
    }
}
