//! Access tokens: EdDSA (Ed25519) JWTs for users and agents, verified once and then cached,
//! revocable at once. Two gates are consulted on every request, cached or not: the token-id
//! denylist (`DELETE /v1/auth/token`) and dead API keys (deleted keys). A principal that
//! changed (an agent deactivated, re-keyed or deleted, a user deleted) is evicted, so its
//! next token is admitted afresh against the database (token generation, `not_before`).
//! Signing keys rotate: new tokens use the newest key, older keys keep verifying.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clawvault_core::crypto::DataKey;
use clawvault_core::time_util::unix_micros;
use clawvault_store::{AgentRecord, Role};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use super::principal::{Actor, Credential, Principal};
use crate::caches::ReadCache;
use crate::error::ServerError;

/// Issuer and audience of every token.
pub const ISSUER: &str = "clawvault";
/// Lifetime of an agent token when the agent sets none (as 1Claw).
pub const AGENT_TTL_SECONDS: i64 = 3600;
/// Entries kept in the verified-token cache before it is emptied.
const CACHE_LIMIT: usize = 100_000;

/// Claims of a clawvault access token (1Claw's agent claims plus our own).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// `user:<uuid>` or `agent:<uuid>`.
    pub sub: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at (seconds).
    pub iat: i64,
    /// Issued at, microseconds: compared with revocation cutoffs.
    pub iat_us: i64,
    /// Token id (the revocation handle).
    pub jti: String,
    /// Organisation (clawvault has one).
    pub org: Uuid,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Users: their role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Users: the API key the token was exchanged for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub akid: Option<Uuid>,
    /// Agents: vaults they are bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_ids: Option<Vec<Uuid>>,
    /// Agents: the user who created them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Uuid>,
    /// Agents: recorded for 1Claw compatibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intents_api_enabled: Option<bool>,
    /// Agents: the token generation the exchange read (see `AgentRecord::token_generation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tgen: Option<i64>,
}

/// Why a token was refused. The messages are shown to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, unknown key, wrong algorithm, malformed.
    #[error("the access token is invalid: exchange your API key for a new one")]
    Invalid,
    /// Past `exp`.
    #[error("the access token has expired: exchange your API key for a new one")]
    Expired,
    /// Revoked, its API key deleted, or its agent deactivated, re-keyed or deleted.
    #[error("the access token has been revoked")]
    Revoked,
}

/// The result of [`TokenService::check`].
#[derive(Debug)]
pub enum Checked {
    /// Admitted before.
    Cached(Arc<Principal>),
    /// Signature valid, not yet admitted.
    Fresh(Principal),
}

impl Checked {
    /// The principal either way.
    #[must_use]
    pub fn principal(&self) -> &Principal {
        match self {
            Self::Cached(p) => p,
            Self::Fresh(p) => p,
        }
    }
}

/// One Ed25519 signing key.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_key: [u8; 32],
    /// After this, no token it signed can still be valid: it verifies nothing more.
    retires_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key whose 32-byte seed is `seed`.
    ///
    /// # Errors
    /// [`ServerError::RootKey`] if the seed does not make a key.
    pub fn from_seed(seed: &DataKey) -> Result<Self, ServerError> {
        let bad = || ServerError::RootKey("token signing key is invalid".into());
        let pair = Ed25519KeyPair::from_seed_unchecked(seed.expose()).map_err(|_| bad())?;
        let pkcs8 = pair.to_pkcs8().map_err(|_| bad())?;
        let public_key: [u8; 32] = pair.public_key().as_ref().try_into().map_err(|_| bad())?;
        let kid = Sha256::digest(public_key)[..8].iter().map(|b| format!("{b:02x}")).collect::<String>();
        Ok(Self {
            kid,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            decoding: DecodingKey::from_ed_der(&public_key),
            public_key,
            retires_at: None,
        })
    }

    /// This key, verifying only until `at` (it no longer signs: a newer key does).
    #[must_use]
    pub fn retiring(mut self, at: OffsetDateTime) -> Self {
        self.retires_at = Some(at);
        self
    }

    /// The key id (`kid` header).
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

#[derive(Debug, Default)]
struct Gates {
    revoked: HashSet<String>,
    dead_api_keys: HashSet<Uuid>,
}

/// Signing keys, verification cache and revocation state.
#[derive(Debug)]
pub struct TokenService {
    keys: RwLock<Vec<Arc<SigningKey>>>,
    validation: Validation,
    user_ttl_seconds: i64,
    verified: ReadCache<[u8; 32], Arc<Principal>>,
    gates: RwLock<Gates>,
}

fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl TokenService {
    /// A service signing with the last of `keys` and verifying with all of them.
    ///
    /// # Errors
    /// [`ServerError::RootKey`] without keys.
    pub fn new(keys: Vec<SigningKey>, user_ttl_seconds: u64, revoked: Vec<String>) -> Result<Self, ServerError> {
        if keys.is_empty() {
            return Err(ServerError::RootKey("no token signing key".into()));
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        let gates = Gates { revoked: revoked.into_iter().collect(), ..Gates::default() };
        Ok(Self {
            keys: RwLock::new(keys.into_iter().map(Arc::new).collect()),
            validation,
            user_ttl_seconds: i64::try_from(user_ttl_seconds).unwrap_or(900),
            verified: ReadCache::new(CACHE_LIMIT),
            gates: RwLock::new(gates),
        })
    }

    /// Lifetime of tokens for users, in seconds.
    #[must_use]
    pub fn user_ttl_seconds(&self) -> i64 {
        self.user_ttl_seconds
    }

    /// Replaces every key (after a rotation, here or on another server): the last one signs.
    pub fn replace_keys(&self, keys: Vec<SigningKey>) {
        if !keys.is_empty() {
            *write(&self.keys) = keys.into_iter().map(Arc::new).collect();
        }
    }

    /// Forgets the verified tokens of a principal and of the agents they created, so that
    /// their next request is admitted afresh against the database: what a user minted
    /// stands only while they do.
    pub fn evict(&self, principal_id: Uuid) {
        self.verified.retain(|_, p| {
            p.id() != principal_id && !matches!(p.actor, Actor::Agent { created_by, .. } if created_by == principal_id)
        });
    }

    /// Forgets every verified token.
    pub fn evict_all(&self) {
        self.verified.clear();
    }

    fn sign(&self, claims: &Claims) -> Result<String, ServerError> {
        let key =
            read(&self.keys).last().cloned().ok_or_else(|| ServerError::RootKey("no token signing key".into()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| ServerError::RootKey(format!("signing a token: {e}")))
    }

    /// Claims living `ttl` seconds, or less so as not to outlive `not_after` (the credential
    /// behind the token expires then: a token admitted before would otherwise keep working,
    /// on a server that does not ask the database again, until its own expiry).
    fn base_claims(&self, sub: String, ttl: i64, not_after: Option<OffsetDateTime>, scopes: Vec<String>) -> Claims {
        let now = OffsetDateTime::now_utc();
        let ttl = match not_after {
            Some(at) => ttl.min((at - now).whole_seconds()).max(1),
            None => ttl,
        };
        Claims {
            sub,
            iss: ISSUER.into(),
            aud: ISSUER.into(),
            exp: now.unix_timestamp() + ttl,
            iat: now.unix_timestamp(),
            iat_us: unix_micros(now),
            jti: Uuid::new_v4().to_string(),
            org: Uuid::nil(),
            scopes,
            role: None,
            akid: None,
            vault_ids: None,
            created_by: None,
            intents_api_enabled: None,
            tgen: None,
        }
    }

    /// Mints a token for a user's API key, expiring no later than the key.
    ///
    /// # Errors
    /// [`ServerError::RootKey`] if signing fails.
    pub fn issue_user(
        &self,
        user_id: Uuid,
        role: Role,
        api_key_id: Uuid,
        key_expires_at: Option<OffsetDateTime>,
        scopes: Vec<String>,
    ) -> Result<(String, i64), ServerError> {
        let mut claims = self.base_claims(format!("user:{user_id}"), self.user_ttl_seconds, key_expires_at, scopes);
        claims.role = Some(role.as_str().into());
        claims.akid = Some(api_key_id);
        Ok((self.sign(&claims)?, claims.exp - claims.iat))
    }

    /// Mints a token for an agent, with its own lifetime, expiring no later than the agent or
    /// its key.
    ///
    /// # Errors
    /// [`ServerError::RootKey`] if signing fails.
    pub fn issue_agent(&self, agent: &AgentRecord) -> Result<(String, i64), ServerError> {
        let ttl = agent.token_ttl_seconds.unwrap_or(AGENT_TTL_SECONDS);
        let not_after = match (agent.expires_at, agent.key_expires_at) {
            (Some(a), Some(k)) => Some(a.min(k)),
            (a, k) => a.or(k),
        };
        let mut claims = self.base_claims(format!("agent:{}", agent.id), ttl, not_after, agent.scopes.clone());
        claims.vault_ids = Some(agent.vault_ids.clone());
        claims.created_by = Some(agent.created_by);
        claims.intents_api_enabled = Some(agent.intents_api_enabled);
        claims.tgen = Some(agent.token_generation);
        Ok((self.sign(&claims)?, claims.exp - claims.iat))
    }

    /// Checks a bearer token: from the cache when it was admitted before, otherwise by its
    /// signature ([`Checked::Fresh`], which the caller admits with [`TokenService::admit`]
    /// once it has confirmed that the key or agent behind it still stands).
    ///
    /// # Errors
    /// [`TokenError`] saying why it is refused.
    pub fn check(&self, token: &str) -> Result<Checked, TokenError> {
        let digest = token_digest(token);
        let cached = self.verified.get(&digest);
        let checked = match cached {
            Some(p) => Checked::Cached(p),
            None => Checked::Fresh(self.verify_signature(token)?),
        };
        let p = checked.principal();
        if p.expires_at <= OffsetDateTime::now_utc() {
            return Err(TokenError::Expired);
        }
        if self.is_revoked(p) {
            return Err(TokenError::Revoked);
        }
        Ok(checked)
    }

    /// The principal admitted before for an API key sent as the bearer credential, while it
    /// still passes every gate. One that does not is forgotten (not refused): the key is
    /// checked against the database again, so that a reactivated agent's key works again and
    /// a deleted key fails there.
    #[must_use]
    pub fn cached_key(&self, key: &str) -> Option<Arc<Principal>> {
        let digest = token_digest(key);
        let p = self.verified.get(&digest)?;
        if p.expires_at <= OffsetDateTime::now_utc() || self.is_revoked(&p) {
            self.verified.remove(&digest);
            return None;
        }
        Some(p)
    }

    /// Whether `p`'s token was revoked, or the API key it was minted from killed, since it
    /// was verified (what a long-lived request, an event stream, checks again).
    #[must_use]
    pub fn is_revoked(&self, p: &Principal) -> bool {
        let gates = read(&self.gates);
        let key_dead = matches!(p.actor, Actor::User { api_key_id, .. } if gates.dead_api_keys.contains(&api_key_id));
        gates.revoked.contains(&p.jti) || key_dead
    }

    /// Take before confirming in the database what stands behind a fresh token; pass it to
    /// [`TokenService::admit`].
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.verified.epoch()
    }

    /// Caches a freshly verified token so that later requests skip the signature check, unless
    /// a principal was evicted since `epoch` (what was confirmed may already be stale).
    pub fn admit(&self, token: &str, principal: Principal, epoch: u64) -> Arc<Principal> {
        let p = Arc::new(principal);
        self.verified.put(epoch, token_digest(token), Arc::clone(&p));
        p
    }

    fn verify_signature(&self, token: &str) -> Result<Principal, TokenError> {
        let kid =
            jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?.kid.ok_or(TokenError::Invalid)?;
        let key = read(&self.keys).iter().find(|k| k.kid == kid).cloned().ok_or(TokenError::Invalid)?;
        if key.retires_at.is_some_and(|at| at <= OffsetDateTime::now_utc()) {
            return Err(TokenError::Invalid);
        }
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        let c = data.claims;
        let expires_at = OffsetDateTime::from_unix_timestamp(c.exp).map_err(|_| TokenError::Invalid)?;
        let (kind, id) = c.sub.split_once(':').ok_or(TokenError::Invalid)?;
        let id = Uuid::parse_str(id).map_err(|_| TokenError::Invalid)?;
        let actor = match kind {
            "user" => Actor::User {
                id,
                role: c.role.as_deref().and_then(Role::parse).ok_or(TokenError::Invalid)?,
                api_key_id: c.akid.ok_or(TokenError::Invalid)?,
            },
            "agent" => Actor::Agent {
                id,
                created_by: c.created_by.ok_or(TokenError::Invalid)?,
                vault_ids: c.vault_ids.unwrap_or_default(),
                token_generation: c.tgen.ok_or(TokenError::Invalid)?,
            },
            _ => return Err(TokenError::Invalid),
        };
        Ok(Principal {
            actor,
            jti: c.jti,
            issued_at_us: c.iat_us,
            expires_at,
            scopes: c.scopes,
            credential: Credential::Token,
        })
    }

    /// Revokes a token id at once.
    pub fn revoke(&self, jti: &str) {
        write(&self.gates).revoked.insert(jti.to_owned());
    }

    /// Kills every token minted from an API key at once.
    pub fn kill_api_key(&self, api_key_id: Uuid) {
        write(&self.gates).dead_api_keys.insert(api_key_id);
    }

    /// The JWK set publishing every key that still verifies, newest last.
    #[must_use]
    pub fn jwks(&self) -> serde_json::Value {
        let now = OffsetDateTime::now_utc();
        let keys: Vec<serde_json::Value> = read(&self.keys)
            .iter()
            .filter(|k| k.retires_at.is_none_or(|at| at > now))
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                    "kid": k.kid, "x": URL_SAFE_NO_PAD.encode(k.public_key),
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_seed(&DataKey::generate().unwrap()).unwrap()
    }

    fn service() -> TokenService {
        TokenService::new(vec![key()], 900, vec![]).unwrap()
    }

    fn agent() -> AgentRecord {
        AgentRecord {
            id: Uuid::new_v4(),
            name: "bot".into(),
            description: String::new(),
            created_by: Uuid::new_v4(),
            key_hash: None,
            key_prefix: None,
            key_expires_at: None,
            is_active: true,
            token_ttl_seconds: Some(300),
            vault_ids: vec![Uuid::new_v4()],
            scopes: vec![],
            expires_at: None,
            not_before: None,
            token_generation: 0,
            auth_method: "api_key".into(),
            intents_api_enabled: false,
            shroud_enabled: false,
            created_at: OffsetDateTime::now_utc(),
            last_active_at: None,
        }
    }

    #[test]
    fn users_and_agents_round_trip_and_revoke() {
        let s = service();
        let key_id = Uuid::new_v4();
        let (t, ttl) = s.issue_user(Uuid::new_v4(), Role::Admin, key_id, None, vec![]).unwrap();
        assert_eq!(ttl, 900);
        let Checked::Fresh(p) = s.check(&t).unwrap() else { panic!("first check verifies the signature") };
        assert!(p.is_admin());
        let admitted = s.admit(&t, p.clone(), s.epoch());
        assert!(matches!(s.check(&t).unwrap(), Checked::Cached(c) if c == admitted));
        s.revoke(&p.jti);
        assert_eq!(s.check(&t).unwrap_err(), TokenError::Revoked);
        let (t2, _) = s.issue_user(Uuid::new_v4(), Role::Member, key_id, None, vec![]).unwrap();
        s.kill_api_key(key_id);
        assert_eq!(s.check(&t2).unwrap_err(), TokenError::Revoked);

        let a = agent();
        let (t3, ttl) = s.issue_agent(&a).unwrap();
        assert_eq!(ttl, 300);
        let p = s.check(&t3).unwrap().principal().clone();
        assert!(p.is_agent());
        assert_eq!(p.human(), a.created_by);
        s.admit(&t3, p.clone(), s.epoch());
        assert!(matches!(s.check(&t3).unwrap(), Checked::Cached(_)));
        let before = s.epoch();
        s.evict(a.id);
        assert!(matches!(s.check(&t3).unwrap(), Checked::Fresh(_)), "an evicted principal is admitted afresh");
        s.admit(&t3, p, before);
        assert!(
            matches!(s.check(&t3).unwrap(), Checked::Fresh(_)),
            "what was confirmed before an eviction is not cached after it"
        );
    }

    #[test]
    fn tokens_do_not_outlive_the_credential_behind_them() {
        let s = service();
        let soon = OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let (t, ttl) = s.issue_user(Uuid::new_v4(), Role::Admin, Uuid::new_v4(), Some(soon), vec![]).unwrap();
        assert!((29..=30).contains(&ttl), "{ttl}");
        assert!(s.check(&t).unwrap().principal().expires_at <= soon);

        let mut a = agent();
        a.expires_at = Some(soon + time::Duration::seconds(60));
        a.key_expires_at = Some(soon);
        let (_, ttl) = s.issue_agent(&a).unwrap();
        assert!((29..=30).contains(&ttl), "the earlier of the agent's and its key's expiry: {ttl}");
        a.key_expires_at = None;
        let (_, ttl) = s.issue_agent(&a).unwrap();
        assert!((89..=90).contains(&ttl), "{ttl}");
        a.expires_at = None;
        assert_eq!(s.issue_agent(&a).unwrap().1, 300, "the agent's own lifetime otherwise");
    }

    #[test]
    fn a_token_confirmed_before_an_eviction_is_not_cached() {
        let s = service();
        let a = agent();
        let (t, _) = s.issue_agent(&a).unwrap();
        let p = s.check(&t).unwrap().principal().clone();
        let epoch = s.epoch();
        // Another server deactivated the agent after this one confirmed it in the database.
        s.evict(a.id);
        s.admit(&t, p, epoch);
        assert!(matches!(s.check(&t).unwrap(), Checked::Fresh(_)), "the next request confirms it again");
    }

    /// The keys after a rotation, as `signing::load` gives them: the old one retiring at `at`.
    fn rotated(s: &TokenService, old: &SigningKey, at: OffsetDateTime) {
        s.replace_keys(vec![old.clone().retiring(at), key()]);
    }

    #[test]
    fn rotation_keeps_old_tokens_valid() {
        let first = key();
        let s = TokenService::new(vec![first.clone()], 900, vec![]).unwrap();
        let (old, _) = s.issue_user(Uuid::new_v4(), Role::Admin, Uuid::new_v4(), None, vec![]).unwrap();
        rotated(&s, &first, OffsetDateTime::now_utc() + time::Duration::days(1));
        let (new, _) = s.issue_user(Uuid::new_v4(), Role::Admin, Uuid::new_v4(), None, vec![]).unwrap();
        assert!(s.check(&old).is_ok());
        assert!(s.check(&new).is_ok());
        let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
        assert_ne!(kid(&old), kid(&new));
        assert_eq!(s.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_rotated_out_key_retires_once_its_tokens_cannot_be_valid() {
        let first = key();
        let s = TokenService::new(vec![first.clone()], 900, vec![]).unwrap();
        let (old, _) = s.issue_user(Uuid::new_v4(), Role::Admin, Uuid::new_v4(), None, vec![]).unwrap();
        // As if the longest token lifetime had passed since the rotation.
        rotated(&s, &first, OffsetDateTime::now_utc() - time::Duration::seconds(1));
        assert_eq!(s.check(&old).unwrap_err(), TokenError::Invalid, "a retired key verifies nothing");
        assert_eq!(s.jwks()["keys"].as_array().unwrap().len(), 1, "and is no longer published");
        let (new, _) = s.issue_user(Uuid::new_v4(), Role::Admin, Uuid::new_v4(), None, vec![]).unwrap();
        assert!(s.check(&new).is_ok());
    }

    #[test]
    fn a_users_eviction_drops_the_tokens_of_the_agents_they_created() {
        let s = service();
        let a = agent();
        let (t, _) = s.issue_agent(&a).unwrap();
        let p = s.check(&t).unwrap().principal().clone();
        s.admit(&t, p, s.epoch());
        assert!(matches!(s.check(&t).unwrap(), Checked::Cached(_)));
        s.evict(a.created_by);
        assert!(matches!(s.check(&t).unwrap(), Checked::Fresh(_)), "confirmed against the database again");
    }

    #[test]
    fn foreign_tampered_and_unsigned_tokens_fail() {
        let s = service();
        let other = service();
        let (t, _) = other.issue_user(Uuid::new_v4(), Role::Admin, Uuid::new_v4(), None, vec![]).unwrap();
        assert_eq!(s.check(&t).unwrap_err(), TokenError::Invalid);

        let (t, _) = s.issue_user(Uuid::new_v4(), Role::Member, Uuid::new_v4(), None, vec![]).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let mut claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["role"] = "admin".into();
        let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
        assert_eq!(s.check(&forged).unwrap_err(), TokenError::Invalid);

        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(s.check(&unsigned).unwrap_err(), TokenError::Invalid);
        assert_eq!(s.check("garbage").unwrap_err(), TokenError::Invalid);
    }
}
