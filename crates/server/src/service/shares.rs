//! Shares: one version of a secret handed to a user, an agent, the agent's creator, or
//! anyone with the link, with an expiry (capped by the server), an optional read limit,
//! passphrase and address allowlist, revocable by its creator or an admin. Targeted shares
//! must be accepted first. Every opening is audited; unknown, revoked and not-for-you shares
//! all answer the same 404.
//!
//! A share never lends more than its creator holds: creating one needs `read` (and `share`)
//! on the path under the conditions a read has, and every opening checks again that the
//! creator still exists, is active and may still read it (from the opener's address, now). A
//! share hands out the version it was made for: after a rotation the old link gives the old
//! version or nothing, never the new value.

use clawvault_core::scope::Scope;
use std::net::IpAddr;

use clawvault_core::action::Action;
use clawvault_core::policy::{Cidr, Permission};
use clawvault_core::time_util::{now, rfc3339};
use clawvault_core::{SecretPath, SecretValue};
use clawvault_store::{AuditBatch, RecipientType, ShareChange, ShareRecord, VersionMeta};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{access, require_future, reveal};
use crate::auth::{Actor, Caller};
use crate::error::{ApiError, ApiResult, Hint};
use crate::op::{Asker, Op};
use crate::state::AppState;

/// A share to create.
#[derive(Debug)]
pub struct NewShare {
    /// `user`, `agent`, `creator`, `anyone_with_link` (or `external_email`, refused).
    pub recipient_type: String,
    /// The recipient, for `user` and `agent`.
    pub recipient_id: Option<Uuid>,
    /// Unusable after (required).
    pub expires_at: OffsetDateTime,
    /// Openings allowed.
    pub max_access_count: Option<i64>,
    /// Required to open, if given.
    pub passphrase: Option<SecretValue>,
    /// Client addresses allowed to open.
    pub ip_allowlist: Vec<String>,
}

/// What an opened share reveals.
#[derive(Debug)]
pub struct OpenedShare {
    /// The share after this opening.
    pub share: ShareRecord,
    /// The shared version.
    pub meta: VersionMeta,
    /// The value.
    pub value: SecretValue,
}

// No message here names the share's id: it is a capability, and refusals are audited.
fn unknown() -> ApiError {
    ApiError::NotFound(
        "no share with that id for you: it does not exist, was revoked, or is addressed to someone else".into(),
    )
}

/// `share` as callers know it: its row id replaced by the share's id.
fn as_known(state: &AppState, mut share: ShareRecord) -> ApiResult<ShareRecord> {
    if let Some(sealed) = &share.sealed_id {
        share.id = state.share_ids.open(sealed, share.id)?;
    }
    Ok(share)
}

fn all_known(state: &AppState, shares: Vec<ShareRecord>) -> ApiResult<Vec<ShareRecord>> {
    shares.into_iter().map(|s| as_known(state, s)).collect()
}

/// Moves shares written before ids were hashed to their hashed rows (at start).
///
/// # Errors
/// Storage failures.
pub async fn rekey_unhashed(state: &AppState) -> ApiResult<()> {
    for id in state.store.unhashed_shares().await? {
        let row = state.share_ids.row(id);
        state.store.rekey_share(id, row, state.share_ids.seal(id, row)?).await?;
    }
    Ok(())
}

/// Creates a share of a secret the caller may share.
///
/// # Errors
/// 400 (recipient, expiry, limit, passphrase, allowlist), 403, 404, 429.
pub async fn create(state: &AppState, caller: &Caller, secret_id: &str, new: NewShare) -> ApiResult<ShareRecord> {
    let mut op = Op::new(state, caller, Action::ShareCreate);
    op.resource(secret_id.to_owned());
    let result = async {
        let secret_id = super::id(secret_id, "secret_id")?;
        create_in(state, &mut op, caller, secret_id, new).await
    }
    .await;
    op.finish(result).await
}

async fn create_in(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    secret_id: Uuid,
    new: NewShare,
) -> ApiResult<ShareRecord> {
    access::require_scope(caller, Scope::SharesWrite)?;
    // A share reveals the value to whoever opens it: a key that may not read may not share.
    access::require_scope(caller, Scope::SecretsRead)?;
    let no_secret = || ApiError::NotFound(format!("no secret {secret_id} that you may share"));
    let secret = state.store.secret_by_id(secret_id).await?.filter(|s| s.deleted_at.is_none()).ok_or_else(no_secret)?;
    let vault = state.vault(&secret.vault_id.to_string()).await?.ok_or_else(no_secret)?;
    op.vault(vault.record.id);
    if !access::sees(state, caller, &vault.record).await? {
        return Err(no_secret());
    }
    let path = SecretPath::parse(&secret.path).map_err(|_| no_secret())?;
    access::check_path(state, caller, &vault.record, &path, Permission::Share).await?;
    // Sharing reveals: it needs what a read needs, so that `share` never gets round a denial.
    access::check_path(state, caller, &vault.record, &path, Permission::Read).await?;
    require_future("expires_at", Some(new.expires_at))?;
    // A share lives no longer than the credential of whoever made it.
    let expires_at =
        access::earliest(Some(new.expires_at), access::mint_limit(state, caller).await?).unwrap_or(new.expires_at);
    let longest = time::Duration::seconds(i64::try_from(state.config.share_max_lifetime_seconds).unwrap_or(i64::MAX));
    if new.expires_at > OffsetDateTime::now_utc() + longest {
        return Err(ApiError::Invalid {
            field: "expires_at",
            problem: format!(
                "is too far ahead: shares last at most {} days on this server (share_max_lifetime_seconds = {})",
                state.config.share_max_lifetime_seconds / 86_400,
                state.config.share_max_lifetime_seconds
            ),
        });
    }
    if new.max_access_count.is_some_and(|n| n < 1) {
        return Err(ApiError::Invalid {
            field: "max_access_count",
            problem: "must be 1 or more (leave it out for no limit)".into(),
        });
    }
    for cidr in &new.ip_allowlist {
        cidr.parse::<Cidr>().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    }
    if new.recipient_type == "external_email" {
        return Err(ApiError::BadRequest(
            "this server sends no email: use anyone_with_link and hand over the link yourself".into(),
        ));
    }
    let recipient_type = RecipientType::parse(&new.recipient_type).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "recipient_type {:?} is unknown: use user, agent, creator or anyone_with_link",
            new.recipient_type
        ))
    })?;
    let recipient_id = match recipient_type {
        RecipientType::AnyoneWithLink => None,
        RecipientType::User | RecipientType::Agent => {
            let id = new.recipient_id.ok_or_else(|| {
                ApiError::BadRequest(format!("recipient_id is required for a {} share", recipient_type.as_str()))
            })?;
            // Only admins are told that nobody has this id (see policies): a share addressed to
            // nobody opens for nobody.
            let exists = !caller.principal.is_admin()
                || if recipient_type == RecipientType::User {
                    state.store.user(id).await?.is_some()
                } else {
                    state.store.agent(id).await?.is_some()
                };
            if !exists {
                return Err(ApiError::BadRequest(format!(
                    "recipient_id: there is no {} {id}",
                    recipient_type.as_str()
                )));
            }
            Some(id)
        }
        RecipientType::Creator => match &caller.principal.actor {
            Actor::Agent { created_by, .. } => Some(*created_by),
            Actor::User { .. } => {
                return Err(ApiError::BadRequest(
                    "recipient_type creator is for agents sharing with the user who created them".into(),
                ));
            }
        },
    };
    let (head, current) = state.store.version(vault.record.id, path.as_str(), None).await?.ok_or_else(no_secret)?;
    if head.id != secret_id {
        return Err(no_secret());
    }
    reveal::ensure_openable(&head, &current.meta, &path)?;
    // Only shares that would be created count towards the limit; it is taken before the
    // passphrase is hashed, so that requests past it cost nothing.
    state.limits.before_share_create(&caller.principal.id().to_string())?;
    let passphrase_hash = match new.passphrase {
        None => None,
        Some(p) => Some(state.passphrases.hash(p).await?),
    };
    let id = Uuid::new_v4();
    let row = state.share_ids.row(id);
    let share = ShareRecord {
        id: row,
        sealed_id: Some(state.share_ids.seal(id, row)?),
        secret_id,
        vault_id: vault.record.id,
        secret_path: secret.path.clone(),
        secret_version: current.meta.version,
        created_by: caller.principal.id(),
        created_by_type: caller.principal.kind(),
        created_with_key: match caller.principal.actor {
            Actor::User { api_key_id, .. } => Some(api_key_id),
            Actor::Agent { .. } => None,
        },
        recipient_type,
        recipient_id,
        recipient_email: None,
        passphrase_hash,
        expires_at,
        max_access_count: new.max_access_count,
        access_count: 0,
        ip_allowlist: new.ip_allowlist,
        accepted: false,
        declined: false,
        revoked: false,
        created_at: now(),
    };
    op.resource(share.id.to_string());
    op.detail("secret_id", secret_id.to_string());
    op.detail("version", share.secret_version);
    op.detail("recipient_type", share.recipient_type.as_str());
    if let Some(r) = recipient_id {
        op.detail("recipient_id", r.to_string());
    }
    let event = op.success();
    state.store.create_share(&share, AuditBatch::new(&state.chain_key, &[event])).await?;
    Ok(ShareRecord { id, ..share })
}

/// Opens a share: checks, counts one access, and reveals the shared version's value.
///
/// # Errors
/// 403 (address, passphrase, not accepted), 404 (unknown, revoked, not for the caller), 410
/// (expired, read limit reached, secret deleted), 429.
pub async fn open(
    state: &AppState,
    caller: Option<&Caller>,
    ip: Option<IpAddr>,
    id: &str,
    passphrase: Option<SecretValue>,
) -> ApiResult<OpenedShare> {
    let asker = caller.map_or(Asker::Anonymous(ip), Asker::Caller);
    let mut op = Op::by(state, asker, Action::ShareAccess);
    let result = async {
        let id = super::id(id, "share id")?;
        open_in(state, &mut op, caller, id, ip, passphrase).await
    }
    .await;
    op.finish(result).await
}

async fn open_in(
    state: &AppState,
    op: &mut Op<'_>,
    caller: Option<&Caller>,
    id: Uuid,
    ip: Option<IpAddr>,
    passphrase: Option<SecretValue>,
) -> ApiResult<OpenedShare> {
    let row = state.share_ids.row(id);
    op.resource(row.to_string());
    if let Some(c) = caller {
        access::require_scope(c, Scope::SharesRead)?;
    }
    state.limits.before_share_open(ip, &row.to_string())?;
    let share = state.store.share(row).await?.filter(|s| !s.revoked).ok_or_else(unknown)?;
    op.vault(share.vault_id);
    if let Some(recipient) = share.recipient_id {
        if caller.is_none_or(|c| c.principal.id() != recipient) {
            return Err(unknown());
        }
        if share.declined {
            return Err(declined());
        }
        if !share.accepted {
            return Err(ApiError::Forbidden("accept the share first".into()).hint(Hint::AcceptShare));
        }
    }
    if share.expires_at <= OffsetDateTime::now_utc() {
        return Err(ApiError::Gone(format!("this share expired at {}", rfc3339(share.expires_at))));
    }
    if !share.ip_allowlist.is_empty() {
        let allowed = ip
            .is_some_and(|ip| share.ip_allowlist.iter().filter_map(|c| c.parse::<Cidr>().ok()).any(|c| c.contains(ip)));
        if !allowed {
            return Err(ApiError::Forbidden("this share may not be opened from this address".into()));
        }
    }
    if let Some(hash) = share.passphrase_hash.clone() {
        let given = passphrase
            .ok_or_else(|| ApiError::Forbidden("this share needs its passphrase".into()).hint(Hint::SendPassphrase))?;
        let ok = state.passphrases.verify(given, hash).await?;
        state.limits.after_share_passphrase(&row.to_string(), ok);
        if !ok {
            return Err(ApiError::Forbidden("wrong passphrase".into()));
        }
    }
    let vault = state
        .vault(&share.vault_id.to_string())
        .await?
        .ok_or_else(|| ApiError::Gone("the shared secret no longer exists".into()))?;
    let path = SecretPath::parse(&share.secret_path)
        .map_err(|e| ApiError::Integrity(format!("share row {row} names a stored path that does not parse: {e}")))?;
    let withdrawn = || {
        ApiError::Gone(
            "this share is no longer valid: whoever made it was removed, deactivated, or may no longer read the secret; ask for a new share"
                .into(),
        )
    };
    let creator = access::standing(state, share.created_by_type, share.created_by, share.created_with_key, ip)
        .await?
        .ok_or_else(withdrawn)?;
    access::require_scope(&creator, Scope::SecretsRead).map_err(|_| withdrawn())?;
    access::check_path(state, &creator, &vault.record, &path, Permission::Read).await.map_err(|_| withdrawn())?;
    let gone = || ApiError::Gone("the shared secret was deleted".into());
    let (secret, record) =
        state.store.version(vault.record.id, &share.secret_path, Some(share.secret_version)).await?.ok_or_else(gone)?;
    if secret.id != share.secret_id {
        return Err(gone());
    }
    // The secret's own limits hold through a share too: deleted, disabled or expired versions
    // stay closed, and a share does not read past the version's read limit.
    // Checked before the share's own count is taken, so that a closed version does not use
    // up the share; `reveal::open` checks again as it counts the secret's read.
    reveal::ensure_openable(&secret, &record.meta, &path)?;
    let count = state.store.consume_share(row, share.max_access_count).await?.ok_or_else(|| {
        ApiError::Gone(format!("this share has been opened its {} allowed times", share.max_access_count.unwrap_or(0)))
    })?;
    op.detail("access_count", count);
    let (meta, value) = reveal::open(state, op, &vault, &secret, &record, &path).await?;
    Ok(OpenedShare { share: ShareRecord { id, access_count: count, ..share }, meta, value })
}

/// Shares the caller created, newest first.
///
/// # Errors
/// Storage failures.
pub async fn outbound(state: &AppState, caller: &Caller) -> ApiResult<Vec<ShareRecord>> {
    access::require_scope(caller, Scope::SharesRead)?;
    all_known(state, state.store.shares_by(caller.principal.id()).await?)
}

/// Every share, newest first (admins: to find and revoke what others handed out).
///
/// # Errors
/// 403 for everyone else.
pub async fn all(state: &AppState, caller: &Caller) -> ApiResult<Vec<ShareRecord>> {
    access::require_scope(caller, Scope::SharesRead)?;
    // The list holds every share's id, each a link that opens: it reveals like a read.
    access::require_scope(caller, Scope::SecretsRead)?;
    access::require_admin(caller, "list every share")?;
    all_known(state, state.store.all_shares().await?)
}

/// Shares addressed to the caller, newest first (revoked ones left out).
///
/// # Errors
/// Storage failures.
pub async fn inbound(state: &AppState, caller: &Caller) -> ApiResult<Vec<ShareRecord>> {
    access::require_scope(caller, Scope::SharesRead)?;
    let live = state.store.shares_for(caller.principal.id()).await?.into_iter().filter(|s| !s.revoked).collect();
    all_known(state, live)
}

/// Accepts (`accept`) or declines a share addressed to the caller.
///
/// # Errors
/// 400, 404.
pub async fn respond(state: &AppState, caller: &Caller, id: &str, accept: bool) -> ApiResult<()> {
    let (action, change) =
        if accept { (Action::ShareAccept, ShareChange::Accept) } else { (Action::ShareDecline, ShareChange::Decline) };
    // Declining is final: a declined share is not accepted (nor opened) later.
    let mine = |s: &ShareRecord| s.recipient_id == Some(caller.principal.id());
    let allowed = |s: &ShareRecord| if accept && s.declined { Err(declined()) } else { Ok(()) };
    change_share(state, caller, id, action, change, mine, allowed).await
}

fn declined() -> ApiError {
    ApiError::Gone("you declined this share, and a declined share stays closed: ask its creator for a new one".into())
}

/// Revokes a share (its creator, or an admin).
///
/// # Errors
/// 400, 404.
pub async fn revoke(state: &AppState, caller: &Caller, id: &str) -> ApiResult<()> {
    let mine = |s: &ShareRecord| s.created_by == caller.principal.id() || caller.principal.is_admin();
    change_share(state, caller, id, Action::ShareRevoke, ShareChange::Revoke, mine, |_| Ok(())).await
}

/// Applies `change` to a live share that `mine` says the caller may change, when `allowed`
/// says the share's state admits it.
async fn change_share(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
    change: ShareChange,
    mine: impl Fn(&ShareRecord) -> bool,
    allowed: impl Fn(&ShareRecord) -> ApiResult<()>,
) -> ApiResult<()> {
    let mut op = Op::new(state, caller, action);
    let result = async {
        access::require_scope(caller, Scope::SharesWrite)?;
        let row = state.share_ids.row(super::id(id, "share id")?);
        op.resource(row.to_string());
        let share = state.store.share(row).await?.filter(|s| !s.revoked && mine(s)).ok_or_else(unknown)?;
        op.vault(share.vault_id);
        allowed(&share)?;
        let accepting = matches!(change, ShareChange::Accept);
        let event = op.success();
        if !state.store.change_share(row, change, AuditBatch::new(&state.chain_key, &[event])).await? {
            // Declined (or revoked) between the read above and this write.
            return Err(if accepting { declined() } else { unknown() });
        }
        Ok(())
    }
    .await;
    op.finish(result).await
}
