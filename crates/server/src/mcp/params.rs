//! The tools' parameters, named as 1Claw's MCP server names them (its clients and prompts
//! already use these names), plus an optional `vault` where 1Claw takes the vault from the
//! connection. Their doc comments become the JSON Schema descriptions the model reads.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

/// Text a tool receives that may be a secret: never shown by `Debug`, zeroed when dropped,
/// and a number is taken as its digits (models send PINs as numbers), so that no argument
/// error quotes it.
pub struct SecretText(pub Zeroizing<String>);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SecretText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretText, E> {
                Ok(SecretText(Zeroizing::new(v.to_owned())))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SecretText, E> {
                Ok(SecretText(Zeroizing::new(v.to_string())))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SecretText, E> {
                Ok(SecretText(Zeroizing::new(v.to_string())))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SecretText, E> {
                Err(E::custom("a secret value must be a string"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl JsonSchema for SecretText {
    fn schema_name() -> Cow<'static, str> {
        String::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        String::json_schema(generator)
    }

    fn inline_schema() -> bool {
        true
    }
}

/// `list_secrets`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListSecrets {
    /// Only paths starting with this prefix (for example `bots/`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Vault name or id. Optional: by default the vault the connection names (`X-Vault-ID`
    /// or `clawvault mcp --vault`), else the only vault this identity can see.
    #[serde(default)]
    pub vault: Option<String>,
}

/// Tools that name one secret.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct OneSecret {
    /// The secret's path, for example `bots/discord/token`.
    pub path: String,
    /// Vault name or id. Optional: by default the vault the connection names (`X-Vault-ID`
    /// or `clawvault mcp --vault`), else the only vault this identity can see.
    #[serde(default)]
    pub vault: Option<String>,
}

/// `put_secret`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct PutSecret {
    /// The secret's path, for example `providers/openai/key`.
    pub path: String,
    /// The value to store.
    pub value: SecretText,
    /// One of api_key (the default), password, private_key, certificate, file, note, ssh_key,
    /// env_bundle, generic.
    #[serde(default, rename = "type")]
    pub secret_type: Option<String>,
    /// A JSON object kept with the version; `allowed_hosts` (an array of host names, `host:port`
    /// or `*.domain`) says where `http_request` may send the value.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    /// RFC 3339 time after which the value can no longer be read or used.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// How many times the value may be read or used; 0 or absent means unlimited.
    #[serde(default)]
    pub max_access_count: Option<i64>,
    /// Vault name or id. Optional: by default the vault the connection names (`X-Vault-ID`
    /// or `clawvault mcp --vault`), else the only vault this identity can see.
    #[serde(default)]
    pub vault: Option<String>,
}

/// `rotate_and_store`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RotateAndStore {
    /// The existing secret's path.
    pub path: String,
    /// The new value (for example a key the provider just issued).
    pub value: SecretText,
    /// Vault name or id. Optional: by default the vault the connection names (`X-Vault-ID`
    /// or `clawvault mcp --vault`), else the only vault this identity can see.
    #[serde(default)]
    pub vault: Option<String>,
}

/// `rotate_generate`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RotateGenerate {
    /// The existing secret's path.
    pub path: String,
    /// Characters to generate (default 32).
    #[serde(default)]
    pub length: Option<usize>,
    /// hex (the default), base64, alphanumeric or ascii.
    #[serde(default)]
    pub charset: Option<String>,
    /// Vault name or id. Optional: by default the vault the connection names (`X-Vault-ID`
    /// or `clawvault mcp --vault`), else the only vault this identity can see.
    #[serde(default)]
    pub vault: Option<String>,
}

/// `create_vault`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateVault {
    /// The vault's name (1 to 255 characters).
    pub name: String,
    /// What it holds.
    #[serde(default)]
    pub description: Option<String>,
}

/// `grant_access`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GrantAccess {
    /// The vault (id or name); only its owner may grant access.
    pub vault_id: String,
    /// `user` or `agent`.
    pub principal_type: String,
    /// The user's or agent's id.
    pub principal_id: String,
    /// Any of read, use, list, write, delete, rotate, share (default `["read"]`).
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    /// Which paths, as a glob (default `**`, every path).
    #[serde(default)]
    pub secret_path_pattern: Option<String>,
}

/// `share_secret`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ShareSecret {
    /// The secret's id (from `describe_secret`).
    pub secret_id: String,
    /// `creator` (whoever made this agent), `user`, `agent` or `anyone_with_link`.
    pub recipient_type: String,
    /// The user's or agent's id, for `user` and `agent`.
    #[serde(default)]
    pub recipient_id: Option<String>,
    /// RFC 3339 time after which the share no longer opens (required).
    pub expires_at: String,
    /// How many times it may be opened (default 5).
    #[serde(default)]
    pub max_access_count: Option<i64>,
}

/// `request_secret`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RequestSecret {
    /// Where the value will be stored, for example `providers/openai/key`.
    pub path: String,
    /// What the user should enter, shown on the page (for example "the OpenAI key of the
    /// support bot, from platform.openai.com/api-keys").
    #[serde(default)]
    pub description: Option<String>,
    /// The type a new secret gets: api_key (the default), password, private_key, certificate,
    /// file, note, ssh_key, env_bundle, generic. An existing secret keeps its type.
    #[serde(default, rename = "type")]
    pub secret_type: Option<String>,
    /// Vault name or id. Optional: by default the vault the connection names (`X-Vault-ID`
    /// or `clawvault mcp --vault`), else the only vault this identity can see.
    #[serde(default)]
    pub vault: Option<String>,
}

/// `inspect_content`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct InspectContent {
    /// The text to scan (up to 1 MiB).
    pub content: SecretText,
    /// `input` (text about to be sent somewhere) or `output` (text received); informative.
    #[serde(default)]
    pub context: Option<String>,
    /// Vault name or id. Optional: by default the vault the connection names (`X-Vault-ID`
    /// or `clawvault mcp --vault`), else the only vault this identity can see.
    #[serde(default)]
    pub vault: Option<String>,
}

/// `http_request`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct HttpRequest {
    /// GET (the default), POST, PUT, PATCH, DELETE or HEAD.
    #[serde(default)]
    pub method: Option<String>,
    /// `https://host/path?query`. `{{secret:PATH}}` may stand in the path or query (the value
    /// is percent-encoded there), never in the host.
    pub url: String,
    /// Header names and values; a value may hold `{{secret:PATH}}`, for example
    /// `{"Authorization": "Bearer {{secret:providers/openai}}"}`.
    #[serde(default)]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// The body as text; may hold `{{secret:PATH}}`.
    #[serde(default)]
    pub body: Option<String>,
    /// Vault name or id. Optional: by default the vault the connection names (`X-Vault-ID`
    /// or `clawvault mcp --vault`), else the only vault this identity can see.
    #[serde(default)]
    pub vault: Option<String>,
}

/// `github_token`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GithubToken {
    /// Path of a `github_app` secret (its app id, installation id and private key).
    pub path: String,
    /// Only these repositories of the installation (names without the owner).
    #[serde(default)]
    pub repositories: Option<Vec<String>>,
    /// Only these permissions, each `read`, `write` or `admin`, for example
    /// `{"contents": "read", "pull_requests": "write"}`.
    #[serde(default)]
    pub permissions: Option<std::collections::BTreeMap<String, String>>,
    /// Vault name or id. Optional: by default the vault the connection names (`X-Vault-ID`
    /// or `clawvault mcp --vault`), else the only vault this identity can see.
    #[serde(default)]
    pub vault: Option<String>,
}
