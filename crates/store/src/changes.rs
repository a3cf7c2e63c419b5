//! Changes to state that servers keep in memory (opened vaults, cached versions, verified
//! tokens, parsed policies, signing keys). A store shared by several servers records each one
//! in the transaction of the write that causes it, so every server can follow them in commit
//! order and drop what went stale.

use uuid::Uuid;

/// One change, named by what a server must forget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The secret at this path (a version written, disabled, deleted or restored).
    Secret {
        /// Vault.
        vault_id: Uuid,
        /// Path.
        path: String,
    },
    /// A vault (deleted).
    Vault(Uuid),
    /// An agent (updated, deactivated, re-keyed or deleted).
    Agent(Uuid),
    /// A user (deleted, with their keys).
    User(Uuid),
    /// A user's API key (deleted).
    ApiKey(Uuid),
    /// The policies naming this principal.
    Policies(Uuid),
    /// A revoked token id.
    Token(String),
    /// The set of server keys (a token signing key was added).
    ServerKeys,
    /// The proxy's routes (one was made, replaced or deleted).
    ProxyRoutes,
}

impl Change {
    /// Text form, as stored in a change log.
    #[must_use]
    pub fn encode(&self) -> String {
        match self {
            Self::Secret { vault_id, path } => format!("secret:{vault_id}:{path}"),
            Self::Vault(id) => format!("vault:{id}"),
            Self::Agent(id) => format!("agent:{id}"),
            Self::User(id) => format!("user:{id}"),
            Self::ApiKey(id) => format!("api_key:{id}"),
            Self::Policies(id) => format!("policies:{id}"),
            Self::Token(jti) => format!("token:{jti}"),
            Self::ServerKeys => "server_keys".to_owned(),
            Self::ProxyRoutes => "proxy_routes".to_owned(),
        }
    }

    /// Parses [`Change::encode`]'s form; `None` for text it does not recognise.
    #[must_use]
    pub fn decode(text: &str) -> Option<Self> {
        match text {
            "server_keys" => return Some(Self::ServerKeys),
            "proxy_routes" => return Some(Self::ProxyRoutes),
            _ => {}
        }
        let (kind, rest) = text.split_once(':')?;
        let id = || Uuid::parse_str(rest).ok();
        Some(match kind {
            "secret" => {
                let (vault, path) = rest.split_once(':')?;
                Self::Secret { vault_id: Uuid::parse_str(vault).ok()?, path: path.to_owned() }
            }
            "vault" => Self::Vault(id()?),
            "agent" => Self::Agent(id()?),
            "user" => Self::User(id()?),
            "api_key" => Self::ApiKey(id()?),
            "policies" => Self::Policies(id()?),
            "token" => Self::Token(rest.to_owned()),
            _ => return None,
        })
    }
}

/// Changes after a position in the log, in commit order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeBatch {
    /// The position after the last change returned (pass it to the next call).
    pub position: i64,
    /// The changes.
    pub changes: Vec<Change>,
    /// False when changes after the asked position were already pruned from the log: the
    /// follower must drop everything it keeps in memory.
    pub complete: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_round_trips() {
        let id = Uuid::new_v4();
        for c in [
            Change::Secret { vault_id: id, path: "a/b:c".into() },
            Change::Vault(id),
            Change::Agent(id),
            Change::User(id),
            Change::ApiKey(id),
            Change::Policies(id),
            Change::Token("jti:1".into()),
            Change::ServerKeys,
            Change::ProxyRoutes,
        ] {
            assert_eq!(Change::decode(&c.encode()), Some(c));
        }
        assert_eq!(Change::decode("agent:not-a-uuid"), None);
        assert_eq!(Change::decode("nonsense"), None);
    }
}
