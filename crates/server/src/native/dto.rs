//! Request and response bodies of the native API, with 1Claw's field names (the contract in
//! `reference/1claw-api.md`). Timestamps are RFC 3339 strings.

use clawvault_core::SecretValue;
use clawvault_core::audit::ChainedEvent;
use clawvault_store::{ApiKeyRecord, VaultRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::service::secrets::SecretVersion;

/// clawvault is single-organisation; the org id every object reports.
pub const ORG_ID: Uuid = Uuid::nil();

/// `POST /v1/auth/api-key-token`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ApiKeyTokenRequest {
    /// A user API key (`1ck_…`).
    pub api_key: String,
}

/// An access token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The JWT to send as `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Lifetime in seconds.
    pub expires_in: i64,
}

/// `GET /v1/auth/me`: who the bearer credential belongs to (1Claw's fields for users, with
/// `kind` and the agent's own for agents).
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    /// The user's or agent's id.
    pub id: Uuid,
    /// `user` or `agent`.
    pub kind: &'static str,
    /// Name.
    pub name: String,
    /// The same name (1Claw's field).
    pub display_name: String,
    /// A user's role: `admin` or `member`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// The user who created the agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Uuid>,
    /// The vaults an agent is bound to (empty: any a policy opens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault_ids: Option<Vec<Uuid>>,
    /// What the request authenticated with: `api_key` (the key itself) or `token`.
    pub credential: &'static str,
    /// When that credential stops working (absent: it does not expire).
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub credential_expires_at: Option<OffsetDateTime>,
    /// A user key's scopes (empty: all its owner may do).
    pub scopes: Vec<String>,
}

/// `POST /v1/auth/api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateApiKeyRequest {
    /// Label.
    pub name: String,
    /// Scopes (recorded; enforced by policies).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Expiry (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

/// An API key without the key.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    /// Id.
    pub id: Uuid,
    /// Label.
    pub name: String,
    /// First characters of the key.
    pub key_prefix: String,
    /// Same as `key_prefix` (the SDK's name).
    pub prefix: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Usable.
    pub is_active: bool,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// Last exchange.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<ApiKeyRecord> for ApiKeyOut {
    fn from(k: ApiKeyRecord) -> Self {
        Self {
            id: k.id,
            name: k.name,
            prefix: k.key_prefix.clone(),
            key_prefix: k.key_prefix,
            scopes: k.scopes,
            is_active: k.is_active,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
        }
    }
}

/// A new API key, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    /// The record.
    pub key: ApiKeyOut,
    /// The full key: store it now, it is never shown again.
    pub api_key: String,
}

/// `{keys: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    /// Keys.
    pub keys: Vec<ApiKeyOut>,
}

/// `POST /v1/vaults`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateVaultRequest {
    /// Unique name: letters, digits, `-`, `_` (also its Vault-compatible mount name).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// A vault.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultOut {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Creator.
    pub created_by: Uuid,
    /// `user` or `agent`.
    pub created_by_type: String,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Organisation (clawvault has one).
    pub org_id: Uuid,
    /// Always false: keys are held by clawvault's root key.
    pub cmek_enabled: bool,
    /// Always false.
    pub mpc_custody: bool,
}

impl From<&VaultRecord> for VaultOut {
    fn from(v: &VaultRecord) -> Self {
        Self {
            id: v.id,
            name: v.name.clone(),
            description: v.description.clone(),
            created_by: v.created_by,
            created_by_type: v.created_by_type.as_str().to_owned(),
            created_at: v.created_at,
            org_id: ORG_ID,
            cmek_enabled: false,
            mpc_custody: false,
        }
    }
}

/// `{vaults: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultList {
    /// Vaults the caller may see.
    pub vaults: Vec<VaultOut>,
}

/// `PUT /v1/vaults/{vault}/secrets/{path}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PutSecretRequest {
    /// The value.
    #[schema(value_type = String)]
    pub value: SecretValue,
    /// Type (default `generic`).
    #[serde(rename = "type", default)]
    pub secret_type: Option<String>,
    /// A JSON object of your own.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Unreadable after this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// Reads allowed (0 or absent: unlimited).
    #[serde(default)]
    pub max_access_count: Option<i64>,
    /// Accepted and ignored (1Claw clients send it).
    #[serde(default)]
    pub rotation_policy: Option<Value>,
}

/// `POST /v1/vaults/{vault}/secret-rotate/{path}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RotateRequest {
    /// The next value, when you have one (a key the provider just issued; needs `write`):
    /// then `length` and `charset` are not given. Otherwise the server generates one.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub value: Option<SecretValue>,
    /// Length, 8 to 1024 (default 32).
    #[serde(default)]
    pub length: Option<usize>,
    /// `hex` (default), `base64`, `alphanumeric` or `ascii`.
    #[serde(default)]
    pub charset: Option<String>,
    /// New type (default: unchanged).
    #[serde(rename = "type", default)]
    pub secret_type: Option<String>,
}

fn metadata_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::Object(serde_json::Map::new()))
}

/// A written version (no value).
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretCreated {
    /// Secret id (stable across versions).
    pub id: Uuid,
    /// Path.
    pub path: String,
    /// Type.
    #[serde(rename = "type")]
    pub secret_type: String,
    /// The new version.
    pub version: i64,
    /// Metadata.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Written.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

impl From<&SecretVersion> for SecretCreated {
    fn from(d: &SecretVersion) -> Self {
        Self {
            id: d.secret.id,
            path: d.secret.path.clone(),
            secret_type: d.meta.secret_type.as_str().to_owned(),
            version: d.meta.version,
            metadata: metadata_value(&d.meta.metadata),
            created_at: d.meta.created_at,
            expires_at: d.meta.expires_at,
        }
    }
}

/// A revealed secret version.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretOut {
    /// Secret id.
    pub id: Uuid,
    /// Path.
    pub path: String,
    /// Type.
    #[serde(rename = "type")]
    pub secret_type: String,
    /// The value.
    #[schema(value_type = String)]
    pub value: SecretValue,
    /// Version.
    pub version: i64,
    /// Metadata.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Writer of this version.
    pub created_by: Uuid,
    /// Written.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// Always false.
    pub cmek_encrypted: bool,
    /// Reads counted so far (for versions with a read limit).
    pub access_count: i64,
    /// Read limit.
    pub max_access_count: Option<i64>,
}

/// A secret version's metadata (never the value).
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretMetadataOut {
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
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Written.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// Disabled versions refuse reads.
    pub is_disabled: bool,
    /// Reads counted so far.
    pub access_count: i64,
    /// Read limit.
    pub max_access_count: Option<i64>,
}

impl SecretMetadataOut {
    /// From a secret and one of its versions.
    #[must_use]
    pub fn new(id: Uuid, path: &str, m: &clawvault_store::VersionMeta) -> Self {
        Self {
            id,
            path: path.to_owned(),
            secret_type: m.secret_type.as_str().to_owned(),
            version: m.version,
            metadata: metadata_value(&m.metadata),
            created_at: m.created_at,
            expires_at: m.expires_at,
            is_disabled: m.is_disabled,
            access_count: m.access_count,
            max_access_count: m.max_access_count,
        }
    }
}

impl From<&SecretVersion> for SecretMetadataOut {
    fn from(d: &SecretVersion) -> Self {
        Self::new(d.secret.id, &d.secret.path, &d.meta)
    }
}

/// `{secrets: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretList {
    /// Current versions, by path.
    pub secrets: Vec<SecretMetadataOut>,
}

/// `{versions: [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    /// Newest first.
    pub versions: Vec<SecretMetadataOut>,
}

/// Audit event query.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Exact action (`secret.read`, ...).
    pub action: Option<String>,
    /// Exact actor id.
    pub actor_id: Option<String>,
    /// Exact resource id.
    pub resource_id: Option<String>,
    /// At or after (RFC 3339).
    pub from: Option<String>,
    /// At or before (RFC 3339).
    pub to: Option<String>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<u32>,
    /// Page offset.
    pub offset: Option<u64>,
    /// `oldest` first (chain order, the default) or `newest` first.
    pub order: Option<String>,
}

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventOut {
    /// Event id.
    pub id: Uuid,
    /// Position in the chain.
    pub seq: i64,
    /// What was done.
    pub action: String,
    /// `success`, `denied` or `failure`.
    pub outcome: String,
    /// Actor id.
    pub actor_id: String,
    /// `user`, `agent`, `anonymous`, `system`.
    pub actor_type: String,
    /// Resource kind.
    pub resource_type: String,
    /// Resource id.
    pub resource_id: String,
    /// Vault, if any.
    pub vault_id: Option<Uuid>,
    /// Organisation.
    pub org_id: Uuid,
    /// Extra facts.
    #[schema(value_type = Object)]
    pub details: Value,
    /// Client address.
    pub ip_address: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Same as `created_at` (the SDK's name).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: OffsetDateTime,
}

impl From<ChainedEvent> for AuditEventOut {
    fn from(c: ChainedEvent) -> Self {
        let e = c.event;
        Self {
            id: e.id,
            seq: c.seq,
            action: e.action,
            outcome: e.outcome.as_str().to_owned(),
            actor_id: e.actor_id,
            actor_type: e.actor_type,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            vault_id: e.vault_id,
            org_id: ORG_ID,
            details: serde_json::from_str(&e.details).unwrap_or(Value::Null),
            ip_address: e.ip_address,
            created_at: e.created_at,
            timestamp: e.created_at,
        }
    }
}

/// `{events, count, total}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    /// This page.
    pub events: Vec<AuditEventOut>,
    /// All matching events.
    pub count: u64,
    /// Same as `count` (the SDK's name).
    pub total: u64,
}

/// Chain verification query.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// Check at most this many events from the start of the chain (default: all).
    pub limit: Option<u64>,
    /// An anchor from `GET /v1/audit/anchor` (`cva1:…`): the chain must still hold that event.
    pub anchor: Option<String>,
}

/// How the chain is built.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainScheme {
    /// `HMAC-SHA256`.
    pub algorithm: &'static str,
    /// Prose.
    pub chain_structure: &'static str,
    /// Field holding an event's hash.
    pub hash_field: &'static str,
    /// Field holding the previous hash.
    pub link_field: &'static str,
    /// Where it is documented.
    pub documentation: &'static str,
}

/// Chain verification result.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyOut {
    /// True when no break was found.
    pub chain_valid: bool,
    /// Events that verified.
    pub events_verified: u64,
    /// Events examined.
    pub events_checked: u64,
    /// The first bad event.
    pub broken_at_event_id: Option<Uuid>,
    /// Its position.
    pub broken_at_seq: Option<i64>,
    /// What is wrong there.
    pub broken_reason: Option<String>,
    /// True when the whole chain up to its head was checked.
    pub complete: bool,
    /// The scheme.
    pub scheme: ChainScheme,
}

/// `GET /v1/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or why the server cannot serve.
    pub status: &'static str,
    /// Server version.
    pub version: &'static str,
    /// Where the data lives: `sqlite` or `postgres`.
    pub storage: &'static str,
    /// Always false: the root key is read from its file at start, so a serving server is
    /// unsealed (a sealed start would answer 503 until unsealed).
    pub sealed: bool,
}
