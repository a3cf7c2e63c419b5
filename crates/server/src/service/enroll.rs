//! Self-enrollment: an agent asks to be enrolled (no credentials), a user approves or denies,
//! and the agent, polling with the pairing id and its poll token, receives its key exactly
//! once. Unknown pairing ids and wrong poll tokens get the same answer, and requests are
//! rate-limited per client address.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clawvault_core::action::Action;
use clawvault_core::crypto::{open, random_bytes, seal};
use clawvault_core::enrollment::possession_message;
use clawvault_core::scope::Scope;
use clawvault_core::time_util::now;
use clawvault_store::{AuditBatch, EnrollmentRecord, EnrollmentStatus, StoreError};
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{access, agents};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Hint};
use crate::op::Op;
use crate::state::AppState;

/// How long a request waits for a user.
pub const PENDING_FOR: Duration = Duration::hours(24);

/// What an enrolling agent is told (the same for every request).
#[derive(Debug)]
pub struct Requested {
    /// Its pairing id.
    pub pairing_id: Uuid,
    /// The fingerprint a user will see when approving.
    pub fingerprint: String,
    /// The token it polls with (shown once).
    pub poll_token: String,
}

/// What a poll returns.
#[derive(Debug)]
pub struct Polled {
    /// `pending`, `approved`, `denied` or `expired`.
    pub status: &'static str,
    /// The agent, once approved.
    pub agent_id: Option<Uuid>,
    /// The key, on the first poll after approval only.
    pub api_key: Option<Zeroizing<String>>,
}

fn poll_hash(state: &AppState, token: &str) -> Vec<u8> {
    let mut mac = <hmac::Hmac<Sha256>>::new_from_slice(state.api_key_hash.expose()).expect("hmac takes any key length");
    mac.update(b"clawvault/enrollment-poll/v1");
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// `SHA256:<base64>` of the public key's bytes (the key blob of an `ssh-ed25519 AAAA…` line, or
/// the decoded base64 key), or of the name when no key was sent.
fn fingerprint(public_key: Option<&str>, name: &str) -> ApiResult<String> {
    let bytes = match public_key {
        None => name.as_bytes().to_vec(),
        Some(k) => {
            ed25519_key(k)?;
            key_blob(k)?
        }
    };
    Ok(format!("SHA256:{}", STANDARD.encode(Sha256::digest(&bytes)).trim_end_matches('=')))
}

fn bad_key() -> ApiError {
    ApiError::BadRequest(
        "public_key must be an Ed25519 key: an `ssh-ed25519 AAAA…` line, or the base64 of its 32 bytes".into(),
    )
}

/// The decoded key blob of an `ssh-ed25519 AAAA…` line, or the decoded base64 key.
fn key_blob(k: &str) -> ApiResult<Vec<u8>> {
    let blob = k.split_whitespace().nth(1).unwrap_or(k);
    STANDARD.decode(blob).map_err(|_| bad_key())
}

/// The 32 bytes of an Ed25519 public key: raw, or inside the SSH wire form (string
/// `ssh-ed25519`, then string key).
fn ed25519_key(k: &str) -> ApiResult<[u8; 32]> {
    let blob = key_blob(k)?;
    if let Ok(raw) = <[u8; 32]>::try_from(blob.as_slice()) {
        return Ok(raw);
    }
    let mut rest = blob.as_slice();
    let mut string = || -> ApiResult<&[u8]> {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(bad_key)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| bad_key())?;
        let (s, tail) = tail.split_at_checked(len).ok_or_else(bad_key)?;
        rest = tail;
        Ok(s)
    };
    if string()? != b"ssh-ed25519" {
        return Err(bad_key());
    }
    <[u8; 32]>::try_from(string()?).map_err(|_| bad_key())
}

/// Checks a base64 (standard or URL-safe) Ed25519 signature of [`possession_message`].
fn proves_possession(public_key: &str, pairing_id: Uuid, signature: Option<&str>) -> bool {
    let Some(signature) = signature.map(str::trim) else { return false };
    let Ok(key) = ed25519_key(public_key) else { return false };
    let Some(sig) =
        STANDARD.decode(signature).ok().or_else(|| URL_SAFE_NO_PAD.decode(signature.trim_end_matches('=')).ok())
    else {
        return false;
    };
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, key)
        .verify(possession_message(pairing_id).as_bytes(), &sig)
        .is_ok()
}

/// Records a request. The answer is the same for everyone.
///
/// # Errors
/// 400 for a bad name or key, 429.
pub async fn request(
    state: &AppState,
    ip: Option<IpAddr>,
    name: &str,
    description: &str,
    public_key: Option<&str>,
) -> ApiResult<Requested> {
    let mut op = Op::anonymous(state, ip, Action::EnrollmentRequest);
    let result = request_in(state, &mut op, name, description, public_key).await;
    op.finish(result).await
}

async fn request_in(
    state: &AppState,
    op: &mut Op<'_>,
    name: &str,
    description: &str,
    public_key: Option<&str>,
) -> ApiResult<Requested> {
    state.limits.before_enroll(op.ip())?;
    super::free_text("name", name, super::MAX_NAME_LEN, true)?;
    super::free_text("description", description, super::MAX_DESCRIPTION_LEN, false)?;
    let fingerprint = fingerprint(public_key, name)?;
    let mut raw = Zeroizing::new([0u8; 32]);
    random_bytes(raw.as_mut()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let poll_token = format!("cvp_{}", URL_SAFE_NO_PAD.encode(raw.as_ref()));
    let record = EnrollmentRecord {
        id: Uuid::new_v4(),
        name: name.trim().to_owned(),
        description: description.to_owned(),
        public_key: public_key.map(str::to_owned),
        fingerprint: fingerprint.clone(),
        poll_token_hash: poll_hash(state, &poll_token),
        status: EnrollmentStatus::Pending,
        agent_id: None,
        sealed_key: None,
        decided_by: None,
        created_at: now(),
        expires_at: now() + PENDING_FOR,
    };
    op.resource(record.id.to_string());
    op.detail("name", record.name.as_str());
    op.detail("fingerprint", fingerprint.as_str());
    let event = op.success();
    state.store.create_enrollment(&record, AuditBatch::new(&state.chain_key, &[event])).await?;
    Ok(Requested { pairing_id: record.id, fingerprint, poll_token })
}

/// Answers a poll; delivers the key exactly once after approval.
///
/// # Errors
/// 404 for an unknown pairing id or a wrong token (indistinguishable), 429.
pub async fn poll(
    state: &AppState,
    ip: Option<IpAddr>,
    id: &str,
    token: &str,
    signature: Option<&str>,
) -> ApiResult<Polled> {
    let mut op = Op::anonymous(state, ip, Action::EnrollmentPoll);
    op.resource(id.to_owned());
    let result = poll_in(state, &mut op, id, token, signature).await;
    op.finish(result).await
}

async fn poll_in(
    state: &AppState,
    op: &mut Op<'_>,
    id: &str,
    token: &str,
    signature: Option<&str>,
) -> ApiResult<Polled> {
    state.limits.before_enroll(op.ip())?;
    let unknown = || ApiError::NotFound("unknown pairing id or poll token".into());
    let id = Uuid::parse_str(id).map_err(|_| unknown())?;
    let record = state.store.enrollment(id).await?.ok_or_else(unknown)?;
    if !bool::from(poll_hash(state, token).ct_eq(&record.poll_token_hash)) {
        return Err(unknown());
    }
    Ok(match record.status {
        EnrollmentStatus::Pending if record.expires_at <= OffsetDateTime::now_utc() => {
            Polled { status: "expired", agent_id: None, api_key: None }
        }
        EnrollmentStatus::Pending => Polled { status: "pending", agent_id: None, api_key: None },
        EnrollmentStatus::Denied => Polled { status: "denied", agent_id: None, api_key: None },
        EnrollmentStatus::Approved => {
            // Whoever enrolled with a public key collects the agent's key only by proving they
            // hold its private half: anyone can send someone else's public key, and show its
            // fingerprint to the user approving. A failed proof leaves the key in place.
            if let Some(public_key) = &record.public_key
                && record.sealed_key.is_some()
                && !proves_possession(public_key, id, signature)
            {
                return Err(ApiError::Unauthorized(format!(
                    "this enrollment was requested with a public key: sign `{}` with its private key and send the \
                     signature (base64)",
                    possession_message(id)
                ))
                .hint(Hint::SendEnrollmentSignature));
            }
            let api_key = match state.store.take_enrollment_key(id).await? {
                Some(sealed) => {
                    let plain = open(&state.enrollment_seal, &sealed, id.as_bytes(), "enrollment")
                        .map_err(|e| ApiError::Integrity(format!("the enrollment key cannot be unsealed: {e}")))?;
                    op.detail("key_delivered", true);
                    Some(Zeroizing::new(String::from_utf8_lossy(&plain).into_owned()))
                }
                None => None,
            };
            Polled { status: "approved", agent_id: record.agent_id, api_key }
        }
    })
}

/// Pending requests (admins).
///
/// # Errors
/// 403.
pub async fn pending(state: &AppState, caller: &Caller) -> ApiResult<Vec<EnrollmentRecord>> {
    access::require_scope(caller, Scope::AgentsRead)?;
    access::require_admin(caller, "review enrollment requests")?;
    Ok(state.store.pending_enrollments(now()).await?)
}

/// Approves a pending request (admins): creates the agent, owned by the approver, whose key
/// the next poll collects.
///
/// # Errors
/// 400 (not a pairing id), 403, 404, 409 when it was already decided.
pub async fn approve(
    state: &AppState,
    caller: &Caller,
    id: &str,
    fields: agents::AgentFields,
) -> ApiResult<clawvault_store::AgentRecord> {
    let mut op = Op::new(state, caller, Action::EnrollmentApprove);
    let result = decide(state, &mut op, caller, id, Some(fields))
        .await
        .and_then(|a| a.ok_or_else(|| ApiError::Internal("approval made no agent".into())));
    op.finish(result).await
}

/// Denies a pending request (admins).
///
/// # Errors
/// 400, 403, 404, 409 when it was already decided.
pub async fn deny(state: &AppState, caller: &Caller, id: &str) -> ApiResult<()> {
    let mut op = Op::new(state, caller, Action::EnrollmentDeny);
    let result = decide(state, &mut op, caller, id, None).await.map(|_| ());
    op.finish(result).await
}

async fn decide(
    state: &AppState,
    op: &mut Op<'_>,
    caller: &Caller,
    id: &str,
    approve: Option<agents::AgentFields>,
) -> ApiResult<Option<clawvault_store::AgentRecord>> {
    op.resource(id.to_owned());
    let id = super::id(id, "pairing id")?;
    access::require_scope(caller, Scope::AgentsWrite)?;
    access::require_admin(caller, "approve or deny enrollment requests")?;
    let record =
        state.store.enrollment(id).await?.ok_or_else(|| ApiError::NotFound(format!("no enrollment request {id}")))?;
    if record.status != EnrollmentStatus::Pending || record.expires_at <= OffsetDateTime::now_utc() {
        return Err(ApiError::Conflict(format!("enrollment request {id} is no longer pending")));
    }
    let conflict = |e: StoreError| match e {
        StoreError::Conflict(_) => ApiError::Conflict(format!("enrollment request {id} was decided meanwhile")),
        other => other.into(),
    };
    match approve {
        None => {
            let event = op.success();
            state
                .store
                .decide_enrollment(id, caller.principal.id(), None, AuditBatch::new(&state.chain_key, &[event]))
                .await
                .map_err(conflict)?;
            Ok(None)
        }
        Some(fields) => {
            let mut agent = agents::blank(&record.name, &record.description, caller.principal.id());
            agents::check_and_apply(state, caller, &mut agent, fields).await?;
            agent.expires_at = access::earliest(agent.expires_at, access::mint_limit(state, caller).await?);
            let key = agents::mint_key(state, &mut agent)?;
            let sealed = seal(&state.enrollment_seal, key.expose().as_bytes(), id.as_bytes())
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            op.detail("agent_id", agent.id.to_string());
            let event = op.success();
            state
                .store
                .decide_enrollment(
                    id,
                    caller.principal.id(),
                    Some((&agent, sealed)),
                    AuditBatch::new(&state.chain_key, &[event]),
                )
                .await
                .map_err(conflict)?;
            Ok(Some(agent))
        }
    }
}
