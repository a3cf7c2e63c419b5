//! Event streams: the secret events a caller may see (what happened at which path, and the
//! version: never a value), from where it left off. Each event is shown only if the caller may
//! list or use its path at the moment it is delivered, so a policy change applies to the next event;
//! the caller's standing is checked again while the stream is open, so a deactivated or
//! re-keyed agent's stream ends.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clawvault_core::SecretPath;
use clawvault_core::action::Action;
use clawvault_core::policy::Permission;
use clawvault_core::scope::Scope;
use clawvault_store::{Change, SecretEventKind, StoredSecretEvent};
use time::OffsetDateTime;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use super::{access, vaults};
use crate::auth::{Actor, Caller, Credential};
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use crate::state::AppState;

/// Events read from the store per query when replaying.
const PAGE: u32 = 500;
/// How often an open stream checks that its caller still stands.
const STANDING_EVERY: Duration = Duration::from_secs(30);

/// One event as a caller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenEvent {
    /// Its number (a stream resumes after it).
    pub seq: i64,
    /// When it was committed.
    pub at: OffsetDateTime,
    /// What happened.
    pub kind: SecretEventKind,
    /// The vault's id.
    pub vault_id: Uuid,
    /// The vault's name.
    pub vault: String,
    /// The secret's path.
    pub path: String,
    /// The version concerned.
    pub version: i64,
}

/// What a stream delivers next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// An event.
    Event(SeenEvent),
    /// Events after `after` were pruned before the stream resumed: the consumer missed some
    /// and must read the current versions again.
    Reset {
        /// The number the stream resumed after.
        after: i64,
    },
}

/// An open event stream.
#[derive(Debug)]
pub struct Subscription {
    state: AppState,
    caller: Caller,
    vault: Option<Uuid>,
    cursor: i64,
    live: broadcast::Receiver<Arc<StoredSecretEvent>>,
    /// Changes applied on this server: one about the caller (deactivated, re-keyed, deleted)
    /// has its standing checked at once.
    changes: broadcast::Receiver<Change>,
    /// The server's shutdown: the stream ends.
    stopping: tokio::sync::watch::Receiver<bool>,
    backlog: VecDeque<StoredSecretEvent>,
    /// The store may hold more after the backlog (the last page read was full).
    more: bool,
    reset: Option<i64>,
    checked: Instant,
    /// Counts against the identity's open streams until the stream ends.
    _ticket: crate::limits::StreamTicket,
}

/// Opens a stream of the events the caller may list, in `vault_ref` only when given, after
/// `last_event_id` (a stream that resumes) or from now.
///
/// # Errors
/// 400 (a negative id), 403, 404 for the vault.
pub async fn subscribe(
    state: &AppState,
    caller: &Caller,
    vault_ref: Option<&str>,
    last_event_id: Option<i64>,
) -> ApiResult<Subscription> {
    let mut op = Op::new(state, caller, Action::EventsSubscribe);
    op.resource(vault_ref.unwrap_or("*").to_owned());
    let result = async {
        access::require_scope(caller, Scope::SecretsRead)?;
        let vault = match vault_ref {
            Some(r) => Some(vaults::open(state, &mut op, caller, r).await?.record.id),
            None => None,
        };
        if last_event_id.is_some_and(|n| n < 0) {
            return Err(ApiError::Invalid { field: "Last-Event-ID", problem: "must be an event's number".into() });
        }
        let ticket = state.limits.streams.open(caller.principal.id())?;
        // Live first: whatever is committed from here on is either replayed or received.
        let live = state.secret_events.subscribe();
        let mut sub = Subscription {
            state: state.clone(),
            caller: caller.clone(),
            vault,
            cursor: 0,
            live,
            changes: state.changes.subscribe(),
            stopping: state.stopping.subscribe(),
            backlog: VecDeque::new(),
            more: false,
            reset: None,
            checked: Instant::now(),
            _ticket: ticket,
        };
        match last_event_id {
            Some(after) => {
                op.detail("after", after);
                sub.cursor = after;
                sub.refill().await?;
            }
            None => sub.cursor = state.store.secret_event_head().await?,
        }
        Ok(sub)
    }
    .await;
    op.finish(result).await
}

impl Subscription {
    /// Reads the next page after the cursor from the store.
    async fn refill(&mut self) -> ApiResult<()> {
        let page = self.state.store.secret_events_after(self.cursor, PAGE).await?;
        if !page.complete && self.reset.is_none() {
            self.reset = Some(self.cursor);
        }
        self.more = page.events.len() >= PAGE as usize;
        self.backlog.extend(page.events);
        Ok(())
    }

    /// The next delivery; waits for one. Ends with an error when the caller no longer stands
    /// (deactivated, re-keyed, deleted, its token expired).
    ///
    /// # Errors
    /// 401 once the caller no longer stands; storage failures.
    pub async fn next(&mut self) -> ApiResult<Delivery> {
        loop {
            if *self.stopping.borrow() {
                return Err(ApiError::Unavailable("the server is shutting down; reconnect with Last-Event-ID".into()));
            }
            if let Some(after) = self.reset.take() {
                return Ok(Delivery::Reset { after });
            }
            if self.checked.elapsed() >= STANDING_EVERY {
                self.check_standing().await?;
            }
            if let Some(event) = self.backlog.pop_front() {
                if let Some(seen) = self.admit(&event).await? {
                    return Ok(Delivery::Event(seen));
                }
                continue;
            }
            if self.more {
                self.refill().await?;
                continue;
            }
            let wait = STANDING_EVERY.saturating_sub(self.checked.elapsed());
            tokio::select! {
                got = self.live.recv() => match got {
                    Ok(event) => {
                        if let Some(seen) = self.admit(&event).await? {
                            return Ok(Delivery::Event(seen));
                        }
                    }
                    // Fell behind the feed: what it dropped is in the store.
                    Err(RecvError::Lagged(_)) => self.refill().await?,
                    Err(RecvError::Closed) => {
                        return Err(ApiError::Unavailable("the server is shutting down".into()));
                    }
                },
                _ = self.stopping.changed() => continue,
                changed = self.changes.recv() => {
                    if self.concerns_caller(changed) {
                        self.check_standing().await?;
                    }
                }
                () = tokio::time::sleep(wait) => self.check_standing().await?,
            }
        }
    }

    /// The event as the caller may see it, moving the cursor past it; `None` for one already
    /// delivered, in another vault, or on a path the caller may not list.
    async fn admit(&mut self, event: &StoredSecretEvent) -> ApiResult<Option<SeenEvent>> {
        if event.seq <= self.cursor {
            return Ok(None);
        }
        self.cursor = event.seq;
        let e = &event.event;
        if self.vault.is_some_and(|v| v != e.vault_id) {
            return Ok(None);
        }
        let Some(vault) = self.state.vault(&e.vault_id.to_string()).await? else { return Ok(None) };
        let Ok(path) = SecretPath::parse(&e.path) else { return Ok(None) };
        if !access::sees(&self.state, &self.caller, &vault.record).await? {
            return Ok(None);
        }
        // Who may use a secret learns that it changed (to reload), as who may list it does.
        let mut allowed = false;
        for permission in [Permission::List, Permission::Use] {
            if access::check_path(&self.state, &self.caller, &vault.record, &path, permission).await.is_ok() {
                allowed = true;
                break;
            }
        }
        if !allowed {
            return Ok(None);
        }
        Ok(Some(SeenEvent {
            seq: event.seq,
            at: event.at,
            kind: e.kind,
            vault_id: e.vault_id,
            vault: vault.record.name.clone(),
            path: e.path.clone(),
            version: e.version,
        }))
    }

    /// Whether an applied change may have cut the caller off.
    fn concerns_caller(&self, changed: Result<Change, RecvError>) -> bool {
        let p = &self.caller.principal;
        match changed {
            Ok(Change::Agent(id) | Change::User(id)) => id == p.id(),
            Ok(Change::ApiKey(id)) => matches!(&p.actor, Actor::User { api_key_id, .. } if *api_key_id == id),
            Ok(Change::Token(jti)) => jti == p.jti,
            Ok(_) => false,
            // Missed some: any of them may have been about the caller.
            Err(RecvError::Lagged(_)) => true,
            Err(RecvError::Closed) => false,
        }
    }

    /// Refuses to go on once the caller no longer stands as it did when the stream opened.
    async fn check_standing(&mut self) -> ApiResult<()> {
        self.checked = Instant::now();
        let gone = || ApiError::Unauthorized("the stream's credential no longer stands; authenticate again".into());
        let p = &self.caller.principal;
        if p.credential == Credential::Token
            && (p.expires_at <= OffsetDateTime::now_utc() || self.state.tokens.is_revoked(p))
        {
            return Err(gone());
        }
        let key = match &p.actor {
            Actor::User { api_key_id, .. } => Some(*api_key_id).filter(|k| !k.is_nil()),
            Actor::Agent { .. } => None,
        };
        let now = access::standing(&self.state, p.kind(), p.id(), key, self.caller.ip).await?;
        let stands = match (now.as_ref().map(|c| &c.principal.actor), &p.actor) {
            (Some(Actor::Agent { token_generation: a, .. }), Actor::Agent { token_generation: b, .. }) => a == b,
            (Some(_), _) => true,
            (None, _) => false,
        };
        if stands { Ok(()) } else { Err(gone()) }
    }
}
