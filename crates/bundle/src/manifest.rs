//! `manifest.json`, the first entry of a bundle clawvault makes: where each file's value came
//! from (vault, path, version, type, size) and, when the bundle carries an agent key, what a
//! host's `sync` daemon needs to start. Never a value; `bundle inspect` prints it whole.

use serde::{Deserialize, Serialize};

/// The manifest's entry name.
pub const MANIFEST: &str = "manifest.json";
/// This format.
pub const FORMAT: &str = "clawvault-bundle/1";
/// Where secret files live in a bundle (and in an install directory).
pub const SECRETS_DIR: &str = "secrets/";
/// The agent key's entry name.
pub const AGENT_KEY: &str = "agent.key";

/// What a bundle says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// The vault its secrets came from.
    pub vault: String,
    /// The path prefix exported (empty: the whole vault).
    #[serde(default)]
    pub prefix: String,
    /// One entry per secret file.
    pub secrets: Vec<SecretEntry>,
    /// The host's agent, when the bundle carries its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Host>,
}

/// One secret's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretEntry {
    /// The entry's name in the archive (`secrets/…`).
    pub file: String,
    /// The secret's path in its vault.
    pub path: String,
    /// The version exported.
    pub version: i64,
    /// The secret's type.
    #[serde(rename = "type")]
    pub secret_type: String,
    /// The value's length in bytes.
    pub bytes: u64,
}

/// The agent whose key the bundle carries, for the host's `sync` daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// The agent's name.
    pub agent: String,
    /// The agent's id.
    pub agent_id: String,
    /// The server address the host reaches.
    pub address: String,
    /// The entry holding its key.
    pub key_file: String,
}
