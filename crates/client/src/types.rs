//! The wire shapes the client reads and writes (the native API's contract).

pub use clawvault_core::SecretValue;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// `GET /v1/health`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// Server version.
    pub version: String,
    /// `sqlite` or `postgres` (absent from servers before 0.1).
    #[serde(default)]
    pub storage: Option<String>,
    /// Whether the server is sealed.
    #[serde(default)]
    pub sealed: bool,
}

/// `GET /v1/auth/me`: whom the client's credential belongs to.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Me {
    /// The user's or agent's id.
    pub id: Uuid,
    /// `user` or `agent`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// A user's role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// An agent's creator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Uuid>,
    /// An agent's vaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_ids: Option<Vec<Uuid>>,
    /// `api_key` or `token`.
    pub credential: String,
    /// When the credential stops working (RFC 3339; absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_expires_at: Option<String>,
    /// A user key's scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// An access token.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    /// The token.
    pub access_token: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
}

/// A vault.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Vault {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Creator.
    pub created_by: Uuid,
    /// Created (RFC 3339).
    pub created_at: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct VaultList {
    pub(crate) vaults: Vec<Vault>,
}

/// A version to write.
#[derive(Debug, Serialize)]
pub struct PutSecret {
    value: SecretValue,
    /// Type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub secret_type: Option<String>,
    /// Metadata object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Expiry (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Read limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_access_count: Option<i64>,
}

impl PutSecret {
    /// A version with this value and defaults otherwise.
    #[must_use]
    pub fn with_value(value: SecretValue) -> Self {
        Self { value, secret_type: None, metadata: None, expires_at: None, max_access_count: None }
    }

    /// A version with this value and defaults otherwise.
    #[must_use]
    pub fn new(value: &str) -> Self {
        Self {
            value: SecretValue::from_str_value(value),
            secret_type: None,
            metadata: None,
            expires_at: None,
            max_access_count: None,
        }
    }
}

/// A written version.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SecretCreated {
    /// Secret id.
    pub id: Uuid,
    /// Path.
    pub path: String,
    /// Type.
    #[serde(rename = "type")]
    pub secret_type: String,
    /// New version.
    pub version: i64,
    /// Written.
    pub created_at: String,
}

/// A revealed secret.
#[derive(Deserialize, Serialize)]
pub struct Secret {
    /// Secret id.
    pub id: Uuid,
    /// Path.
    pub path: String,
    /// Type.
    #[serde(rename = "type")]
    pub secret_type: String,
    /// The value.
    pub value: SecretValue,
    /// Version.
    pub version: i64,
    /// Metadata.
    #[serde(default)]
    pub metadata: Value,
    /// Written.
    pub created_at: String,
    /// Expiry.
    pub expires_at: Option<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("value", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// A version's metadata.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SecretMetadata {
    /// Secret id.
    pub id: Uuid,
    /// Path.
    pub path: String,
    /// Type.
    #[serde(rename = "type")]
    pub secret_type: String,
    /// Version.
    pub version: i64,
    /// Metadata.
    #[serde(default)]
    pub metadata: Value,
    /// Written.
    pub created_at: String,
    /// Expiry.
    pub expires_at: Option<String>,
    /// Disabled.
    #[serde(default)]
    pub is_disabled: bool,
    /// Reads counted.
    #[serde(default)]
    pub access_count: i64,
    /// Read limit.
    #[serde(default)]
    pub max_access_count: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SecretList {
    pub(crate) secrets: Vec<SecretMetadata>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct VersionList {
    pub(crate) versions: Vec<SecretMetadata>,
}

/// A rotation: a value the server generates (length, charset), or one the caller has
/// (`value`, which needs `write`); either way the secret keeps its type and metadata.
#[derive(Debug, Default, Serialize)]
pub struct Rotate {
    /// The next value, when the caller has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<SecretValue>,
    /// Length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<usize>,
    /// Charset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
}

/// Audit query.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    /// Action.
    pub action: Option<String>,
    /// Actor.
    pub actor_id: Option<String>,
    /// Resource.
    pub resource_id: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Offset.
    pub offset: Option<u64>,
    /// Newest first (otherwise oldest first, in chain order).
    pub newest_first: bool,
}

/// An audit event.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuditEvent {
    /// Id.
    pub id: Uuid,
    /// Chain position.
    pub seq: i64,
    /// Action.
    pub action: String,
    /// Outcome.
    pub outcome: String,
    /// Actor type.
    pub actor_type: String,
    /// Actor id.
    pub actor_id: String,
    /// Resource id.
    pub resource_id: String,
    /// Client address.
    pub ip_address: Option<String>,
    /// When.
    pub created_at: String,
    /// Details.
    pub details: Value,
}

/// A page of audit events.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuditList {
    /// Events.
    pub events: Vec<AuditEvent>,
    /// All matching.
    pub total: u64,
}

/// The audit chain's head, to keep elsewhere (`GET /v1/audit/anchor`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuditAnchor {
    /// `cva1:<seq>:<hash>:<mac>`.
    pub anchor: String,
    /// Position of the newest event.
    pub seq: i64,
}

/// Result of chain verification (`GET /v1/audit/verify`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct VerifyResult {
    /// Valid.
    pub chain_valid: bool,
    /// Checked.
    pub events_checked: u64,
    /// First bad event.
    pub broken_at_event_id: Option<Uuid>,
    /// Its position.
    pub broken_at_seq: Option<i64>,
    /// What is wrong.
    pub broken_reason: Option<String>,
}
