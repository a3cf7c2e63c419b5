//! Access tokens: EdDSA (Ed25519) JWTs minted for API keys, verified once and then cached,
//! revocable at once (token-id denylist, dead API keys).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clawvault_core::crypto::DataKey;
use clawvault_store::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ServerError;

/// Issuer and audience of every token.
pub const ISSUER: &str = "clawvault";
/// Entries kept in the verified-token cache before it is emptied.
const CACHE_LIMIT: usize = 100_000;

/// Claims of a clawvault access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// `user:<uuid>`.
    pub sub: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id (the revocation handle).
    pub jti: String,
    /// Role of the user.
    pub role: String,
    /// The API key the token was exchanged for.
    pub akid: Uuid,
    /// Scopes of that key.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Who is calling, as established from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user_id: Uuid,
    /// Their role.
    pub role: Role,
    /// The API key the token came from.
    pub api_key_id: Uuid,
    /// Token id.
    pub jti: String,
    /// Token expiry.
    pub expires_at: OffsetDateTime,
}

impl Principal {
    /// True for admins.
    #[must_use]
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// `user` (agents arrive with a later issue).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        "user"
    }
}

/// Why a token was refused. The messages are shown to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, unknown key, wrong algorithm, malformed.
    #[error("the access token is invalid: exchange your API key for a new one at POST /v1/auth/api-key-token")]
    Invalid,
    /// Past `exp`.
    #[error("the access token has expired: exchange your API key for a new one at POST /v1/auth/api-key-token")]
    Expired,
    /// Revoked, or its API key was deleted.
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

/// The signing key, its public half and the verification state.
pub struct TokenService {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_key: [u8; 32],
    validation: Validation,
    ttl_seconds: i64,
    verified: RwLock<HashMap<[u8; 32], Arc<Principal>>>,
    revoked: RwLock<HashSet<String>>,
    dead_api_keys: RwLock<HashSet<Uuid>>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").field("kid", &self.kid).finish_non_exhaustive()
    }
}

fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenService {
    /// A service signing with the Ed25519 key whose 32-byte seed is `seed`.
    ///
    /// # Errors
    /// [`ServerError::RootKey`] if the seed does not make a key.
    pub fn new(seed: &DataKey, ttl_seconds: u64, revoked: Vec<String>) -> Result<Self, ServerError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed.expose())
            .map_err(|_| ServerError::RootKey("token signing key is invalid".into()))?;
        let pkcs8 = pair.to_pkcs8().map_err(|_| ServerError::RootKey("token signing key is invalid".into()))?;
        let public_key: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| ServerError::RootKey("token signing key is invalid".into()))?;
        let kid = Sha256::digest(public_key)[..8].iter().map(|b| format!("{b:02x}")).collect::<String>();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Ok(Self {
            kid,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            decoding: DecodingKey::from_ed_der(&public_key),
            public_key,
            validation,
            ttl_seconds: i64::try_from(ttl_seconds).unwrap_or(900),
            verified: RwLock::new(HashMap::new()),
            revoked: RwLock::new(revoked.into_iter().collect()),
            dead_api_keys: RwLock::new(HashSet::new()),
        })
    }

    /// Token lifetime in seconds.
    #[must_use]
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    /// Mints a token for a user's API key.
    ///
    /// # Errors
    /// [`ServerError::RootKey`] if signing fails.
    pub fn issue(
        &self,
        user_id: Uuid,
        role: Role,
        api_key_id: Uuid,
        scopes: Vec<String>,
    ) -> Result<String, ServerError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: format!("user:{user_id}"),
            iss: ISSUER.into(),
            aud: ISSUER.into(),
            exp: now + self.ttl_seconds,
            iat: now,
            jti: Uuid::new_v4().to_string(),
            role: role.as_str().into(),
            akid: api_key_id,
            scopes,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| ServerError::RootKey(format!("signing a token: {e}")))
    }

    /// Checks a bearer token: from the cache when it was admitted before, otherwise by its
    /// signature ([`Checked::Fresh`], which the caller admits with [`TokenService::admit`]
    /// once it has confirmed that the API key behind it still exists).
    ///
    /// # Errors
    /// [`TokenError`] saying why it is refused.
    pub fn check(&self, token: &str) -> Result<Checked, TokenError> {
        let digest = token_digest(token);
        let cached = self.verified.read().map_or(None, |m| m.get(&digest).cloned());
        let checked = match cached {
            Some(p) => Checked::Cached(p),
            None => Checked::Fresh(self.verify_signature(token)?),
        };
        let p = checked.principal();
        if p.expires_at <= OffsetDateTime::now_utc() {
            return Err(TokenError::Expired);
        }
        if self.revoked.read().map_or(true, |r| r.contains(&p.jti)) || self.is_dead_api_key(p.api_key_id) {
            return Err(TokenError::Revoked);
        }
        Ok(checked)
    }

    /// Caches a freshly verified token so later requests skip the signature check.
    pub fn admit(&self, token: &str, principal: Principal) -> Arc<Principal> {
        let p = Arc::new(principal);
        if let Ok(mut m) = self.verified.write() {
            if m.len() >= CACHE_LIMIT {
                m.clear();
            }
            m.insert(token_digest(token), Arc::clone(&p));
        }
        p
    }

    fn verify_signature(&self, token: &str) -> Result<Principal, TokenError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        let c = data.claims;
        let user_id = c.sub.strip_prefix("user:").and_then(|s| Uuid::parse_str(s).ok()).ok_or(TokenError::Invalid)?;
        let role = Role::parse(&c.role).ok_or(TokenError::Invalid)?;
        let expires_at = OffsetDateTime::from_unix_timestamp(c.exp).map_err(|_| TokenError::Invalid)?;
        Ok(Principal { user_id, role, api_key_id: c.akid, jti: c.jti, expires_at })
    }

    /// Revokes a token id at once.
    pub fn revoke(&self, jti: &str) {
        if let Ok(mut r) = self.revoked.write() {
            r.insert(jti.to_owned());
        }
    }

    /// Kills every token minted from an API key at once.
    pub fn kill_api_key(&self, api_key_id: Uuid) {
        if let Ok(mut d) = self.dead_api_keys.write() {
            d.insert(api_key_id);
        }
    }

    /// Whether a token from this API key was refused since start (deleted key).
    #[must_use]
    pub fn is_dead_api_key(&self, api_key_id: Uuid) -> bool {
        self.dead_api_keys.read().map_or(true, |d| d.contains(&api_key_id))
    }

    /// The JWK set publishing the verification key.
    #[must_use]
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": self.kid,
                "x": URL_SAFE_NO_PAD.encode(self.public_key),
            }]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> TokenService {
        TokenService::new(&DataKey::generate().unwrap(), 900, vec![]).unwrap()
    }

    #[test]
    fn issue_verify_revoke() {
        let s = service();
        let key_id = Uuid::new_v4();
        let t = s.issue(Uuid::new_v4(), Role::Admin, key_id, vec![]).unwrap();
        let Checked::Fresh(p) = s.check(&t).unwrap() else { panic!("first check verifies the signature") };
        assert!(p.is_admin());
        let admitted = s.admit(&t, p.clone());
        assert!(matches!(s.check(&t).unwrap(), Checked::Cached(c) if c == admitted));
        s.revoke(&p.jti);
        assert_eq!(s.check(&t).unwrap_err(), TokenError::Revoked);

        let t2 = s.issue(Uuid::new_v4(), Role::Member, key_id, vec![]).unwrap();
        s.kill_api_key(key_id);
        assert_eq!(s.check(&t2).unwrap_err(), TokenError::Revoked);
    }

    #[test]
    fn foreign_tampered_and_unsigned_tokens_fail() {
        let s = service();
        let other = service();
        let t = other.issue(Uuid::new_v4(), Role::Admin, Uuid::new_v4(), vec![]).unwrap();
        assert_eq!(s.check(&t).unwrap_err(), TokenError::Invalid);

        let t = s.issue(Uuid::new_v4(), Role::Member, Uuid::new_v4(), vec![]).unwrap();
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
