//! Verifying JWTs that others sign (Kubernetes service-account tokens, an identity provider's
//! tokens) against their JWKS: read from a file, a URL, or an OIDC issuer's discovery
//! document, kept for five minutes, and looked up again (at most every ten seconds) when a
//! token names a key it does not hold, so a rotated signing key is picked up without a
//! restart and a flood of unknown key ids costs nothing. Only RS256 and ES256 are taken: no
//! `none`, no HMAC (whose "key" would be public), no algorithm a token picks for itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

/// How long a fetched key set is used before it is fetched again.
const FRESH_FOR: Duration = Duration::from_secs(300);
/// The soonest a key set is fetched again for an unknown key id.
const REFETCH_AFTER: Duration = Duration::from_secs(10);
/// Largest key set or discovery document read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 60;

/// Why a token was not taken. Messages name the rule, never the token.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// No key set is configured for this login method.
    #[error("this server has no {0} configured: an admin sets it to enable this login")]
    NotConfigured(&'static str),
    /// The key set could not be read.
    #[error("the key set cannot be read: {0}")]
    Keys(String),
    /// The token is malformed, signed by an unknown key or with another algorithm, expired,
    /// not yet valid, or from another issuer.
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

struct Held {
    keys: JwkSet,
    fetched: Instant,
}

/// Key sets by source (file path or URL).
#[derive(Default)]
pub struct Jwks {
    held: Mutex<HashMap<String, Held>>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Jwks")
    }
}

/// Keys come over HTTPS, or plain HTTP only from this machine: anyone on the path of a plain
/// fetch could hand the server their own keys.
fn check_url(url: &str) -> Result<(), JwtError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| JwtError::Keys(format!("{url} is not a URL")))?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(JwtError::Keys(format!("{url}: keys are fetched over https only (plain http from this machine)"))),
    }
}

async fn fetch(url: &str) -> Result<Vec<u8>, JwtError> {
    check_url(url)?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| JwtError::Keys(e.without_url().to_string()))?;
    let mut resp = client.get(url).send().await.map_err(|e| JwtError::Keys(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(JwtError::Keys(format!("{url} answered {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| JwtError::Keys(e.without_url().to_string()))? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(JwtError::Keys(format!("{url} answered more than {MAX_DOCUMENT_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The key set a source names: a file, a JWKS URL, or a discovery document's `jwks_uri`.
async fn load(source: &str) -> Result<JwkSet, JwtError> {
    let bytes = if source.starts_with("https://") || source.starts_with("http://") {
        let body = fetch(source).await?;
        if source.ends_with("/.well-known/openid-configuration") {
            let discovery: Value =
                serde_json::from_slice(&body).map_err(|e| JwtError::Keys(format!("discovery document: {e}")))?;
            let jwks_uri = discovery
                .get("jwks_uri")
                .and_then(Value::as_str)
                .ok_or_else(|| JwtError::Keys("the discovery document names no jwks_uri".into()))?;
            fetch(jwks_uri).await?
        } else {
            body
        }
    } else {
        let bytes = tokio::fs::read(source).await.map_err(|e| JwtError::Keys(format!("{source}: {e}")))?;
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(JwtError::Keys(format!("{source} is larger than {MAX_DOCUMENT_BYTES} bytes")));
        }
        bytes
    };
    serde_json::from_slice(&bytes).map_err(|e| JwtError::Keys(format!("not a JWKS document: {e}")))
}

impl Jwks {
    /// The key set of `source`, fetched when none is held, when it is stale, or (`refresh`)
    /// when a token named a key it lacks and the last fetch is not too recent.
    async fn keys(&self, source: &str, refresh: bool) -> Result<JwkSet, JwtError> {
        let held = {
            let held = self.held.lock().map_err(|_| JwtError::Keys("key cache poisoned".into()))?;
            held.get(source).map(|h| (h.keys.clone(), h.fetched.elapsed()))
        };
        if let Some((keys, age)) = held
            && age < FRESH_FOR
            && (!refresh || age < REFETCH_AFTER)
        {
            return Ok(keys);
        }
        match load(source).await {
            Ok(keys) => {
                let mut held = self.held.lock().map_err(|_| JwtError::Keys("key cache poisoned".into()))?;
                held.insert(source.to_owned(), Held { keys: keys.clone(), fetched: Instant::now() });
                Ok(keys)
            }
            // Keys that were good a moment ago stay good while the source cannot be read; the
            // next attempt waits its turn, so an unreachable source is not hammered.
            Err(e) => {
                let mut held = self.held.lock().map_err(|_| JwtError::Keys("key cache poisoned".into()))?;
                match held.get_mut(source) {
                    Some(h) => {
                        tracing::warn!(error = %e, "the JWKS cannot be read again; the keys held are used");
                        h.fetched = Instant::now().checked_sub(FRESH_FOR - REFETCH_AFTER).unwrap_or_else(Instant::now);
                        Ok(h.keys.clone())
                    }
                    None => Err(e),
                }
            }
        }
    }

    /// The claims of `token`, signed by a key of `source` (`what` names the setting in
    /// errors), unexpired and valid now, from `issuer` when one is required. Audiences are the
    /// caller's to check.
    ///
    /// # Errors
    /// [`JwtError`].
    pub async fn verify(
        &self,
        what: &'static str,
        source: Option<&str>,
        issuer: Option<&str>,
        token: &str,
    ) -> Result<serde_json::Map<String, Value>, JwtError> {
        let source = source.ok_or(JwtError::NotConfigured(what))?;
        let header = decode_header(token).map_err(|_| JwtError::Invalid("it is not a signed JWT".into()))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(JwtError::Invalid(format!("{:?} is not accepted: sign with RS256 or ES256", header.alg)));
        }
        let mut keys = self.keys(source, false).await?;
        let pick = |keys: &JwkSet| match &header.kid {
            Some(kid) => keys.find(kid).cloned(),
            None if keys.keys.len() == 1 => keys.keys.first().cloned(),
            None => None,
        };
        let jwk = match pick(&keys) {
            Some(jwk) => jwk,
            None => {
                keys = self.keys(source, true).await?;
                pick(&keys)
                    .ok_or_else(|| JwtError::Invalid("it is signed by a key this server does not know".into()))?
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| JwtError::Keys(format!("a key cannot be used: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        if let Some(iss) = issuer {
            validation.set_issuer(&[iss]);
        }
        let data = decode::<serde_json::Map<String, Value>>(token, &key, &validation).map_err(|e| {
            JwtError::Invalid(match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "it has expired".to_owned(),
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => "it is not valid yet (nbf)".to_owned(),
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => "it is from another issuer".to_owned(),
                jsonwebtoken::errors::ErrorKind::InvalidSignature => "its signature does not verify".to_owned(),
                jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(c) => format!("it has no {c} claim"),
                _ => "it cannot be decoded".to_owned(),
            })
        })?;
        Ok(data.claims)
    }
}
