//! The actions an audit event can name: one variant per thing a caller (or the server) can
//! do, each with the name stored in the trail and the kind of resource it acts on.
//!
//! The stored names are a public contract (audit queries filter on them, exports keep them),
//! so a variant's name never changes once released.

use std::fmt;

macro_rules! actions {
    ($($variant:ident => $name:literal on $resource:literal,)*) => {
        /// What an audit event records being done.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $(#[doc = concat!("`", $name, "` (on a ", $resource, ")")] $variant,)*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The name stored in audit events.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $(Action::$variant => $name,)* }
            }

            /// The kind of resource the event's `resource_id` names.
            #[must_use]
            pub const fn resource_type(self) -> &'static str {
                match self { $(Action::$variant => $resource,)* }
            }
        }
    };
}

actions! {
    ApiKeyAuth => "auth.api_key" on "api_key",
    TokenAuth => "auth.token" on "token",
    KeyExchange => "auth.api_key_token" on "api_key",
    AgentKeyExchange => "auth.agent_token" on "agent",
    AuthRoleCreate => "auth.role_create" on "auth_role",
    AuthRoleDelete => "auth.role_delete" on "auth_role",
    AuthLogin => "auth.login" on "auth_role",
    TokenRevoke => "auth.token_revoke" on "token",
    SigningKeyRotate => "auth.signing_key_rotate" on "signing_key",
    AuthFailures => "auth.failures" on "address",
    ApiKeyCreate => "api_key.create" on "api_key",
    ApiKeyDelete => "api_key.delete" on "api_key",
    UserBootstrap => "user.bootstrap" on "user",
    UserCreate => "user.create" on "user",
    UserList => "user.list" on "user",
    UserDelete => "user.delete" on "user",
    VaultCreate => "vault.create" on "vault",
    VaultRead => "vault.read" on "vault",
    VaultDelete => "vault.delete" on "vault",
    SecretWrite => "secret.write" on "secret",
    SecretRead => "secret.read" on "secret",
    SecretUse => "secret.use" on "secret",
    SecretList => "secret.list" on "vault",
    SecretVersions => "secret.versions" on "secret",
    SecretVersionDisable => "secret.version_disable" on "secret",
    SecretRotate => "secret.rotate" on "secret",
    SecretDelete => "secret.delete" on "secret",
    SecretRestore => "secret.restore" on "secret",
    SecretVersionEnable => "secret.version_enable" on "secret",
    SecretVersionDestroy => "secret.version_destroy" on "secret",
    SecretSettings => "secret.settings" on "secret",
    PolicyCreate => "policy.create" on "policy",
    PolicyList => "policy.list" on "vault",
    PolicyUpdate => "policy.update" on "policy",
    PolicyDelete => "policy.delete" on "policy",
    ShareCreate => "share.create" on "share",
    ShareAccess => "share.access" on "share",
    ShareRevoke => "share.revoke" on "share",
    ShareAccept => "share.accept" on "share",
    ShareDecline => "share.decline" on "share",
    SecretRequestCreate => "secret_request.create" on "secret_request",
    SecretRequestView => "secret_request.view" on "secret_request",
    SecretRequestFulfil => "secret_request.fulfil" on "secret_request",
    AgentCreate => "agent.create" on "agent",
    AgentRead => "agent.read" on "agent",
    AgentUpdate => "agent.update" on "agent",
    AgentDelete => "agent.delete" on "agent",
    AgentDeactivate => "agent.deactivate" on "agent",
    AgentRotateKey => "agent.rotate_key" on "agent",
    EnrollmentRequest => "agent.enroll" on "enrollment",
    EnrollmentPoll => "agent.enroll_status" on "enrollment",
    EnrollmentApprove => "agent.enroll_approve" on "enrollment",
    EnrollmentDeny => "agent.enroll_deny" on "enrollment",
    AuditList => "audit.list" on "audit",
    AuditVerify => "audit.verify" on "audit",
    AuditAnchor => "audit.anchor" on "audit",
    AuditLogRecovered => "audit.log_recovered" on "audit",
    AuditEventRefused => "audit.event_refused" on "audit_event",
    McpToolCall => "mcp.tool_call" on "tool",
    EventsSubscribe => "events.subscribe" on "events",
    ConsumerAck => "consumer.ack" on "consumer",
    ConsumerList => "consumer.list" on "consumer",
    ProxyCall => "proxy.call" on "proxy_route",
    ProxyRouteWrite => "proxy.route_write" on "proxy_route",
    ProxyRouteDelete => "proxy.route_delete" on "proxy_route",
    ProxyRouteList => "proxy.route_list" on "proxy_route",
    ProxyUsage => "proxy.usage" on "proxy_route",
    GithubTokenMint => "github.token_mint" on "secret",
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s).ok_or(UnknownAction)
    }
}

/// A name that is no [`Action`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit action")]
pub struct UnknownAction;

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn names_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert!(seen.insert(a.as_str()), "{a} twice");
            assert_eq!(a.as_str().parse::<Action>(), Ok(*a));
        }
        assert!("secret.nope".parse::<Action>().is_err());
    }
}
