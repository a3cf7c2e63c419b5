use clawvault_core::SecretType;
use time::OffsetDateTime;
use uuid::Uuid;

/// A person's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including restores and other people's keys.
    Admin,
    /// Own vaults and granted ones.
    Member,
}

impl Role {
    /// Stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

/// A person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Id.
    pub id: Uuid,
    /// Unique display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Created.
    pub created_at: OffsetDateTime,
}

/// An API key as stored: its keyed hash, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Label.
    pub name: String,
    /// Non-secret display prefix (`1ck_AbCdEfGh`).
    pub key_prefix: String,
    /// HMAC-SHA256 of the key.
    pub key_hash: Vec<u8>,
    /// Scopes given at creation.
    pub scopes: Vec<String>,
    /// False once revoked.
    pub is_active: bool,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Unusable after.
    pub expires_at: Option<OffsetDateTime>,
    /// Last token exchange.
    pub last_used_at: Option<OffsetDateTime>,
}

/// Key material stored wrapped by the root key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerKeyRecord {
    /// Name (`master`, ...).
    pub name: String,
    /// The wrapped bytes.
    pub wrapped: Vec<u8>,
    /// Fingerprint of the root key that wrapped it.
    pub root_key_id: String,
    /// Created.
    pub created_at: OffsetDateTime,
}

/// A vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRecord {
    /// Id.
    pub id: Uuid,
    /// Unique name (also the Vault-compatible mount name).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Creator's id.
    pub created_by: Uuid,
    /// `user` or `agent`.
    pub created_by_type: String,
    /// Created.
    pub created_at: OffsetDateTime,
    /// The vault's data key, wrapped by the root key.
    pub wrapped_key: Vec<u8>,
    /// Fingerprint of the root key that wrapped it.
    pub root_key_id: String,
}

/// A secret: a path in a vault, stable across versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    /// Id (stable across versions; the id sharing refers to).
    pub id: Uuid,
    /// Vault.
    pub vault_id: Uuid,
    /// Path.
    pub path: String,
    /// Newest version number (versions count from 1).
    pub current_version: i64,
    /// Who created the first version.
    pub created_by: Uuid,
    /// First version written.
    pub created_at: OffsetDateTime,
    /// Newest version written.
    pub updated_at: OffsetDateTime,
    /// Set when soft-deleted.
    pub deleted_at: Option<OffsetDateTime>,
}

/// What is known of a version without its ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMeta {
    /// Version number.
    pub version: i64,
    /// Type.
    pub secret_type: SecretType,
    /// Caller metadata as JSON text.
    pub metadata: String,
    /// Writer.
    pub created_by: Uuid,
    /// Written.
    pub created_at: OffsetDateTime,
    /// Unreadable after.
    pub expires_at: Option<OffsetDateTime>,
    /// Read limit.
    pub max_access_count: Option<i64>,
    /// Reads so far (counted only for versions with a read limit).
    pub access_count: i64,
    /// Disabled versions are kept for audit and refuse reads.
    pub is_disabled: bool,
}

/// A version with its ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    /// Everything but the ciphertext.
    pub meta: VersionMeta,
    /// Sealed value.
    pub ciphertext: Vec<u8>,
}

/// A version to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutVersion {
    /// The secret's id: the existing one, or a new id when `expected_version` is 0.
    pub secret_id: Uuid,
    /// Vault.
    pub vault_id: Uuid,
    /// Path.
    pub path: String,
    /// The version the writer saw (0: the path did not exist). The new version is this + 1.
    pub expected_version: i64,
    /// The new version (its `version` is `expected_version + 1`).
    pub record: VersionRecord,
}

/// Which audit events to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Exact action.
    pub action: Option<String>,
    /// Exact actor id.
    pub actor_id: Option<String>,
    /// Exact resource id.
    pub resource_id: Option<String>,
    /// At or after.
    pub from: Option<OffsetDateTime>,
    /// At or before.
    pub to: Option<OffsetDateTime>,
    /// Page size.
    pub limit: u32,
    /// Page offset.
    pub offset: u64,
}
