//! Who is calling: a user or an agent, as established from a verified token.

use std::net::IpAddr;
use std::sync::Arc;

use clawvault_store::{PrincipalKind, Role};
use time::OffsetDateTime;
use uuid::Uuid;

/// The identity behind a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A user.
    User {
        /// Id.
        id: Uuid,
        /// Role.
        role: Role,
        /// The API key the token was exchanged for.
        api_key_id: Uuid,
    },
    /// An agent.
    Agent {
        /// Id.
        id: Uuid,
        /// The user who created it.
        created_by: Uuid,
        /// Vaults it is bound to (empty: not bound).
        vault_ids: Vec<Uuid>,
        /// The agent's token generation when the token was issued.
        token_generation: i64,
    },
}

/// What a caller authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token exchanged for a key.
    Token,
    /// The `1ck_` or `ocv_` key itself, as the bearer credential.
    ApiKey,
}

impl Credential {
    /// The name recorded in audit events.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::ApiKey => "api_key",
        }
    }
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who.
    pub actor: Actor,
    /// Token id (the revocation handle).
    pub jti: String,
    /// When the token was issued, in microseconds since the epoch.
    pub issued_at_us: i64,
    /// Token expiry.
    pub expires_at: OffsetDateTime,
    /// Scopes of the user's API key (agents' scopes are recorded; their policies decide).
    pub scopes: Vec<String>,
    /// What the caller authenticated with.
    pub credential: Credential,
}

impl Principal {
    /// The user's or agent's id.
    #[must_use]
    pub fn id(&self) -> Uuid {
        match &self.actor {
            Actor::User { id, .. } | Actor::Agent { id, .. } => *id,
        }
    }

    /// `user` or `agent`.
    #[must_use]
    pub fn kind(&self) -> PrincipalKind {
        match self.actor {
            Actor::User { .. } => PrincipalKind::User,
            Actor::Agent { .. } => PrincipalKind::Agent,
        }
    }

    /// True for admin users.
    #[must_use]
    pub fn is_admin(&self) -> bool {
        matches!(self.actor, Actor::User { role: Role::Admin, .. })
    }

    /// True for agents.
    #[must_use]
    pub fn is_agent(&self) -> bool {
        matches!(self.actor, Actor::Agent { .. })
    }

    /// For agents, the user who created them; for users, themselves.
    #[must_use]
    pub fn human(&self) -> Uuid {
        match &self.actor {
            Actor::User { id, .. } => *id,
            Actor::Agent { created_by, .. } => *created_by,
        }
    }
}

/// An authenticated caller: the identity and the address it called from.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub principal: Arc<Principal>,
    /// From where (absent for in-process calls).
    pub ip: Option<IpAddr>,
}
