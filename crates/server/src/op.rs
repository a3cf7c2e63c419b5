//! One audited operation: collects what the audit event says about a request (action,
//! resource, vault, details) and records how it ended. Never holds a secret value.
//!
//! Service calls begin and finish their own `Op`: a success event is either written in the
//! store's transaction (taken with [`Op::success`]) or, if no transaction took it, written
//! when the operation finishes; every failure is written (or counted, before
//! authentication) when it finishes.

use std::net::IpAddr;

use clawvault_core::action::Action;
use clawvault_core::audit::{AuditEvent, Outcome};
use clawvault_core::time_util::now;
use clawvault_store::AuditBatch;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::{Caller, Credential};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::unauthenticated::Verdict;

/// Longest resource id an audit event keeps (a path is at most 512 bytes; a vault reference
/// and the separator fit besides).
pub const MAX_RESOURCE_CHARS: usize = 700;

/// An operation being audited.
#[derive(Debug)]
pub struct Op<'a> {
    state: &'a AppState,
    actor_type: &'static str,
    actor_id: String,
    ip: Option<IpAddr>,
    action: Action,
    resource_id: String,
    vault_id: Option<Uuid>,
    details: Map<String, Value>,
    /// Begun before authentication: its failures are counted per address, not each written.
    unauthenticated: bool,
    /// A store transaction took the success event (see [`Op::success`]).
    success_taken: bool,
}

/// Who asks: an authenticated caller, or someone not (yet) authenticated from an address.
#[derive(Debug, Clone, Copy)]
pub enum Asker<'c> {
    /// Authenticated.
    Caller(&'c Caller),
    /// Not authenticated.
    Anonymous(Option<IpAddr>),
}

impl<'a> Op<'a> {
    /// An operation by an authenticated caller.
    #[must_use]
    pub fn new(state: &'a AppState, caller: &Caller, action: Action) -> Self {
        let mut details = Map::new();
        if caller.principal.credential == Credential::ApiKey {
            details.insert("credential".into(), Credential::ApiKey.as_str().into());
        }
        Self {
            state,
            actor_type: caller.principal.kind().as_str(),
            actor_id: caller.principal.id().to_string(),
            ip: caller.ip,
            action,
            resource_id: String::new(),
            vault_id: None,
            details,
            unauthenticated: false,
            success_taken: false,
        }
    }

    /// An operation before authentication.
    #[must_use]
    pub fn anonymous(state: &'a AppState, ip: Option<IpAddr>, action: Action) -> Self {
        Self {
            state,
            actor_type: "anonymous",
            actor_id: String::new(),
            ip,
            action,
            resource_id: String::new(),
            vault_id: None,
            details: Map::new(),
            unauthenticated: true,
            success_taken: false,
        }
    }

    /// An operation by `asker`.
    #[must_use]
    pub fn by(state: &'a AppState, asker: Asker<'_>, action: Action) -> Self {
        match asker {
            Asker::Caller(c) => Self::new(state, c, action),
            Asker::Anonymous(ip) => Self::anonymous(state, ip, action),
        }
    }

    /// An operation of the server itself (first start): never counted as a caller's failure.
    #[must_use]
    pub fn system(state: &'a AppState, action: Action) -> Self {
        let mut op = Self::anonymous(state, None, action);
        op.unauthenticated = false;
        op.actor_type = "system";
        op
    }

    /// The client's address.
    #[must_use]
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// Names the actor once known (token exchange).
    pub fn actor(&mut self, actor_type: &'static str, actor_id: String) {
        self.actor_type = actor_type;
        self.actor_id = actor_id;
    }

    /// Sets the resource id (a caller's path may carry control characters: they are written
    /// as `\u{..}` escapes, so an audit record never holds raw control bytes, which would also
    /// be refused by PostgreSQL's text type). At most [`MAX_RESOURCE_CHARS`] characters are
    /// kept: a caller without access may name a resource of megabytes, and the refusal is
    /// recorded.
    pub fn resource(&mut self, id: impl Into<String>) {
        self.resource_id = printable(bounded(id.into()));
    }

    /// Sets the vault.
    pub fn vault(&mut self, id: Uuid) {
        self.vault_id = Some(id);
    }

    /// Adds a detail (never a value).
    pub fn detail(&mut self, key: &str, value: impl Into<Value>) {
        self.details.insert(key.to_owned(), value.into());
    }

    /// The success event, for a store call to write in the same transaction as its change;
    /// the operation then does not write it again when it finishes.
    #[must_use]
    pub fn success(&mut self) -> AuditEvent {
        self.success_taken = true;
        self.event(Outcome::Success)
    }

    fn event(&self, outcome: Outcome) -> AuditEvent {
        AuditEvent {
            id: Uuid::now_v7(),
            created_at: now(),
            action: self.action.as_str().to_owned(),
            outcome,
            actor_type: self.actor_type.to_owned(),
            actor_id: self.actor_id.clone(),
            resource_type: self.action.resource_type().to_owned(),
            resource_id: self.resource_id.clone(),
            vault_id: self.vault_id,
            ip_address: self.ip.map(|ip| ip.to_string()),
            details: Value::Object(self.details.clone()).to_string(),
        }
    }

    /// A success event of another action by the same actor (a key made along with a user).
    #[must_use]
    pub fn derived(&self, action: Action, resource_id: String) -> AuditEvent {
        let mut e = self.event(Outcome::Success);
        e.action = action.as_str().to_owned();
        e.resource_type = action.resource_type().to_owned();
        e.resource_id = printable(resource_id);
        e.details = "{}".to_owned();
        e
    }

    /// Records the outcome (durably) with the error, if any, in the details.
    ///
    /// # Errors
    /// When the audit log cannot be written.
    async fn record(&mut self, outcome: Outcome, error: Option<&ApiError>) -> ApiResult<()> {
        if let Some(e) = error {
            // A surface that answered another status than the error's (a proxy's 502) set it.
            self.details.entry("status").or_insert_with(|| e.status().as_u16().into());
            if !matches!(e.unhinted().0, ApiError::Internal(_)) {
                self.details.insert("reason".into(), e.to_string().into());
            }
        }
        let event = [self.event(outcome)];
        self.state.store.append_audit(AuditBatch::new(&self.state.chain_key, &event)).await.map_err(|e| {
            tracing::error!(error = %e, "audit event could not be written");
            ApiError::Unavailable(
                "the audit log cannot be written, so the request was not completed; check the server log and disk"
                    .into(),
            )
        })
    }

    /// Ends the operation: records failures, and successes no transaction took, durably
    /// (the answer waits for them), then returns the result.
    ///
    /// # Errors
    /// The operation's error, or an audit failure.
    pub async fn finish<T>(mut self, result: ApiResult<T>) -> ApiResult<T> {
        match result {
            Ok(v) => {
                if !self.success_taken {
                    self.record(Outcome::Success, None).await?;
                }
                Ok(v)
            }
            Err(e) => Err(self.fail(e).await),
        }
    }

    /// Ends the operation with `e`: records it durably, or, for a failure before
    /// authentication, counts it for its address (see [`crate::unauthenticated`]); returns the
    /// error to answer (a 429 once the address is over its failure budget).
    pub async fn fail(mut self, e: ApiError) -> ApiError {
        if self.unauthenticated {
            match self.state.limits.unauthenticated.note(self.ip, self.action.as_str()) {
                Verdict::Record => {}
                Verdict::Summarised => return e,
                Verdict::Throttled(wait) => {
                    let retry_after = wait.as_secs().max(1);
                    return ApiError::TooManyRequests {
                        retry_after,
                        detail: format!("too many failed requests from this address; retry in {retry_after} s"),
                    };
                }
            }
        }
        let outcome = match e.unhinted().0 {
            ApiError::Unauthorized(_) | ApiError::Forbidden(_) => Outcome::Denied,
            _ => Outcome::Failure,
        };
        match self.record(outcome, Some(&e)).await {
            Ok(()) => e,
            Err(audit) => audit,
        }
    }
}

fn bounded(id: String) -> String {
    match id.char_indices().nth(MAX_RESOURCE_CHARS) {
        Some((cut, _)) => format!("{}…", &id[..cut]),
        None => id,
    }
}

fn printable(s: String) -> String {
    if s.chars().any(clawvault_core::text::is_unprintable) { clawvault_core::text::escaped(&s) } else { s }
}

#[cfg(test)]
mod tests {
    #[test]
    fn resources_are_cut_to_a_bounded_length() {
        let long = "é".repeat(10 * super::MAX_RESOURCE_CHARS);
        assert_eq!(super::bounded(long).chars().count(), super::MAX_RESOURCE_CHARS + 1);
        let short = "v/a".to_owned();
        assert_eq!(super::bounded(short.clone()), short);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::printable("v/a\u{0}b\nc".into()), "v/a\\u{0000}b\\u{000a}c");
        assert_eq!(super::printable("v/plain".into()), "v/plain");
    }
}
