use clawvault_core::SecretType;
use clawvault_core::policy::{Conditions, Effect, Permission};
use time::OffsetDateTime;
use uuid::Uuid;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including restores and other users' keys.
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

/// A user.
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
    /// A user or an agent.
    pub created_by_type: PrincipalKind,
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
    /// Versions up to this one belong to a deletion that a later write did not undo: they
    /// stay closed until an admin restores the secret (0: none).
    pub deleted_through: i64,
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
    /// When it was disabled (`None`: not disabled, or disabled before this was recorded).
    pub disabled_at: Option<OffsetDateTime>,
    /// Destroyed: disabled for good, its ciphertext erased.
    pub destroyed: bool,
}

/// A login role of the Vault-compatible API: who may log in by `method` (`kubernetes`, `jwt`,
/// `approle`) under `name`, and as which agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRoleRecord {
    /// Id (an AppRole's `role_id`).
    pub id: Uuid,
    /// `kubernetes`, `jwt` or `approle`.
    pub method: String,
    /// Unique per method; the `role` a login names.
    pub name: String,
    /// The agent a login becomes: its policies are what the login may do.
    pub agent_id: Uuid,
    /// What a login must show, a JSON object the server interprets per method (service
    /// accounts and namespaces; issuer, audiences, subject and claims).
    pub bindings: String,
    /// An AppRole's `secret_id`, as a keyed hash (never the secret).
    pub secret_hash: Option<Vec<u8>>,
    /// Lifetime of the tokens a login gets, in seconds.
    pub token_ttl_seconds: i64,
    /// Who made it.
    pub created_by: Uuid,
    /// When.
    pub created_at: OffsetDateTime,
}

/// A state change of one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionChange {
    /// Unreadable, kept (a Vault soft delete).
    Disable,
    /// Readable again, unless destroyed (a Vault undelete).
    Enable,
    /// Disabled for good and its ciphertext erased (a Vault destroy).
    Destroy,
}

/// The Vault KV v2 settings of one key (`max_versions`, `cas_required`,
/// `delete_version_after`, `custom_metadata`), kept apart from the secret because Vault lets
/// them exist before the key's first version (a metadata write creates the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvSettingsRecord {
    /// Vault.
    pub vault_id: Uuid,
    /// Path.
    pub path: String,
    /// The settings, a JSON object (the server's to interpret).
    pub settings: String,
    /// Last written.
    pub updated_at: OffsetDateTime,
}

/// What one consumer (a `run --watch`, a `sync` daemon) of an identity says it holds of one
/// secret: the fleet view's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The agent or user the consumer runs as.
    pub principal_id: Uuid,
    /// `agent` or `user`.
    pub principal_type: PrincipalKind,
    /// The consumer's name (what it runs, `sync`, ...).
    pub consumer: String,
    /// The host it runs on.
    pub host: String,
    /// Vault.
    pub vault_id: Uuid,
    /// The secret's path.
    pub path: String,
    /// The version it holds.
    pub version: i64,
    /// When it said so last.
    pub seen_at: OffsetDateTime,
}

/// A route of the credential-injecting proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRouteRecord {
    /// Name, the path segment after `/proxy/`.
    pub name: String,
    /// The vault its placeholders name secrets of.
    pub vault_id: Uuid,
    /// The definition, a JSON object (the server's to interpret).
    pub spec: String,
    /// Who made it.
    pub created_by: Uuid,
    /// Made.
    pub created_at: OffsetDateTime,
    /// Last replaced.
    pub updated_at: OffsetDateTime,
}

/// What one identity spent on one proxy route on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUsageRecord {
    /// The agent or user.
    pub principal_id: Uuid,
    /// The route's name.
    pub route: String,
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    /// Calls.
    pub requests: i64,
    /// Answer body bytes.
    pub response_bytes: i64,
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
    /// Newest first (otherwise oldest first, in chain order).
    pub newest_first: bool,
}

/// Who a policy or share names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// A user.
    User,
    /// An agent.
    Agent,
}

impl PrincipalKind {
    /// Stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Agent => "agent",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

/// What [`crate::Store::delete_user`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserDeletion {
    /// Deleted; these agents they created were active and are now deactivated.
    Deleted {
        /// The agents deactivated.
        deactivated: Vec<Uuid>,
    },
    /// No such user.
    NotFound,
    /// They are the last admin: nothing changed.
    LastAdmin,
}

/// An agent: a machine identity with its own key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The user who created (or approved) it.
    pub created_by: Uuid,
    /// Keyed hash of its `ocv_` key (absent until a key is issued).
    pub key_hash: Option<Vec<u8>>,
    /// Display prefix of the key.
    pub key_prefix: Option<String>,
    /// The key stops working after this time.
    pub key_expires_at: Option<OffsetDateTime>,
    /// Deactivated agents cannot authenticate.
    pub is_active: bool,
    /// Lifetime of its tokens (None: the server default).
    pub token_ttl_seconds: Option<i64>,
    /// Vaults it is bound to (empty: not bound).
    pub vault_ids: Vec<Uuid>,
    /// Scopes recorded for 1Claw compatibility.
    pub scopes: Vec<String>,
    /// The agent stops working after this time.
    pub expires_at: Option<OffsetDateTime>,
    /// Tokens issued before this time are refused (deactivation, re-key).
    pub not_before: Option<OffsetDateTime>,
    /// Raised by every cut-off (deactivation, re-key, new binding, scopes or expiry). A token
    /// carries the generation its exchange read and is refused once the agent's has moved on:
    /// unlike `not_before`, this holds for a token minted from the old row while the cut was
    /// being committed, on a server whose clock runs ahead. Stored values never go down.
    pub token_generation: i64,
    /// `api_key` (others are recorded, not implemented).
    pub auth_method: String,
    /// Recorded for 1Claw compatibility.
    pub intents_api_enabled: bool,
    /// Recorded for 1Claw compatibility.
    pub shroud_enabled: bool,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last token exchange.
    pub last_active_at: Option<OffsetDateTime>,
}

/// A policy: a rule for one principal in one vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRecord {
    /// Id.
    pub id: Uuid,
    /// Vault.
    pub vault_id: Uuid,
    /// Whom it names.
    pub principal_kind: PrincipalKind,
    /// Their id.
    pub principal_id: Uuid,
    /// Path glob.
    pub secret_path_pattern: String,
    /// What it grants or refuses.
    pub permissions: Vec<Permission>,
    /// Grants or refuses.
    pub effect: Effect,
    /// When it applies.
    pub conditions: Conditions,
    /// Recorded for 1Claw compatibility (deny always wins).
    pub priority: i64,
    /// Stops applying after.
    pub expires_at: Option<OffsetDateTime>,
    /// Author.
    pub created_by: Uuid,
    /// A user or an agent.
    pub created_by_type: PrincipalKind,
    /// Created.
    pub created_at: OffsetDateTime,
}

/// Whom a share is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientType {
    /// A user (`recipient_id`).
    User,
    /// An agent (`recipient_id`).
    Agent,
    /// The user who created the sharing agent (`recipient_id` is theirs).
    Creator,
    /// Whoever holds the link.
    AnyoneWithLink,
}

impl RecipientType {
    /// Stored (and wire) name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Agent => "agent",
            Self::Creator => "creator",
            Self::AnyoneWithLink => "anyone_with_link",
        }
    }

    /// Parses a stored (or wire) name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::User, Self::Agent, Self::Creator, Self::AnyoneWithLink].into_iter().find(|r| r.as_str() == s)
    }
}

/// A share of one secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRecord {
    /// The row's id: a keyed hash of the share's id, which is a capability and never stored.
    pub id: Uuid,
    /// The share's id, sealed for listing it to its creator (`None` in rows written before ids
    /// were hashed, until the server re-keys them at start).
    pub sealed_id: Option<Vec<u8>>,
    /// The secret.
    pub secret_id: Uuid,
    /// Its vault.
    pub vault_id: Uuid,
    /// Its path at the time of sharing.
    pub secret_path: String,
    /// The version shared: a rotation does not hand the new value to an old link.
    pub secret_version: i64,
    /// Who shared.
    pub created_by: Uuid,
    /// A user or an agent.
    pub created_by_type: PrincipalKind,
    /// The API key a user made it with (`None` for agents' shares and older rows): the
    /// share opens only while that key stands.
    pub created_with_key: Option<Uuid>,
    /// Whom it is for.
    pub recipient_type: RecipientType,
    /// The recipient, for targeted shares.
    pub recipient_id: Option<Uuid>,
    /// Recorded for 1Claw compatibility.
    pub recipient_email: Option<String>,
    /// Argon2id hash (PHC string) of the passphrase, if one is required.
    pub passphrase_hash: Option<String>,
    /// Unusable after.
    pub expires_at: OffsetDateTime,
    /// Opens allowed.
    pub max_access_count: Option<i64>,
    /// Opens so far.
    pub access_count: i64,
    /// Client addresses allowed (CIDR text; empty: any).
    pub ip_allowlist: Vec<String>,
    /// Targeted shares must be accepted before they open.
    pub accepted: bool,
    /// Declined by the recipient.
    pub declined: bool,
    /// Revoked by the creator.
    pub revoked: bool,
    /// Created.
    pub created_at: OffsetDateTime,
}

/// A request for a user to enter a secret's value on a one-time page (the MCP tool
/// `request_secret`): the value goes from the user's browser to the store, never through
/// the agent that asked. The link's token is a capability and is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRequestRecord {
    /// The row's id: a keyed hash of the link's token.
    pub id: Uuid,
    /// The vault the value goes into.
    pub vault_id: Uuid,
    /// The path it is stored at.
    pub path: String,
    /// The type the stored version gets.
    pub secret_type: SecretType,
    /// What the asker said the value is, shown on the page.
    pub description: String,
    /// Who asked: the value is stored in their name, with their permissions at the time it
    /// is entered.
    pub requested_by: Uuid,
    /// A user or an agent.
    pub requested_by_type: PrincipalKind,
    /// The API key a user asked with (`None` for agents): the link works only while it stands.
    pub requested_with_key: Option<Uuid>,
    /// The token generation of the agent that asked (`None` for users): a re-key,
    /// deactivation or new binding raises it, and the link stops working with the tokens.
    pub requested_generation: Option<i64>,
    /// When it was asked for.
    pub created_at: OffsetDateTime,
    /// The link works until then.
    pub expires_at: OffsetDateTime,
    /// When the link was used (`None`: not yet).
    pub used_at: Option<OffsetDateTime>,
}

/// A state change of a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareChange {
    /// The recipient accepts.
    Accept,
    /// The recipient declines.
    Decline,
    /// The creator revokes.
    Revoke,
}

/// Where a self-enrollment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentStatus {
    /// Waiting for a user.
    Pending,
    /// Approved: the agent exists.
    Approved,
    /// Denied.
    Denied,
}

impl EnrollmentStatus {
    /// Stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// An agent's request to be enrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentRecord {
    /// The pairing id the agent polls with.
    pub id: Uuid,
    /// Requested agent name.
    pub name: String,
    /// Requested description.
    pub description: String,
    /// The agent's public key, if it sent one.
    pub public_key: Option<String>,
    /// SHA-256 fingerprint shown to the approving user.
    pub fingerprint: String,
    /// Keyed hash of the poll token.
    pub poll_token_hash: Vec<u8>,
    /// Where it stands.
    pub status: EnrollmentStatus,
    /// The agent, once approved.
    pub agent_id: Option<Uuid>,
    /// The agent's key sealed for one delivery, cleared once delivered.
    pub sealed_key: Option<Vec<u8>>,
    /// The user who decided.
    pub decided_by: Option<Uuid>,
    /// Requested.
    pub created_at: OffsetDateTime,
    /// Pending enrollments lapse after.
    pub expires_at: OffsetDateTime,
}
