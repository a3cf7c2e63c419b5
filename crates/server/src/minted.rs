//! Installation tokens minted from `github_app` secrets, kept until five minutes before they
//! expire: an agent asking every minute gets the same token, and GitHub sees one exchange an
//! hour per app, version and narrowing. A new version of the secret (a rotated key) is a new
//! key here, so its first call mints afresh. Each server keeps its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use clawvault_core::github_app::REFRESH_BEFORE_SECS;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

/// At most this many tokens are kept; past it, the expired ones go, then all.
const MAX_KEPT: usize = 4096;

/// Which token: the secret, its version, and the narrowing (normalised, as JSON).
pub type MintKey = (Uuid, i64, String);

/// A minted token and what GitHub said it may do.
#[derive(Clone)]
pub struct MintedToken {
    /// The installation token.
    pub token: Zeroizing<String>,
    /// When GitHub expires it.
    pub expires_at: OffsetDateTime,
    /// The permissions GitHub granted it.
    pub permissions: serde_json::Value,
    /// The repositories it reaches, when narrowed (names only).
    pub repositories: Vec<String>,
}

impl std::fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedToken").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// The tokens kept, and the mints under way.
#[derive(Debug, Default)]
pub struct MintedTokens {
    kept: Mutex<HashMap<MintKey, MintedToken>>,
    flights: Mutex<HashMap<MintKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while a key's token is looked up and, on a miss, minted.
pub struct Flight {
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl MintedTokens {
    /// Waits for any mint of `key` under way, and holds the next one off until dropped.
    pub async fn flight(&self, key: &MintKey) -> Flight {
        let lock = {
            let mut flights = self.flights.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // Locks nobody holds or waits for are dropped, so the map stays small.
            flights.retain(|_, l| Arc::strong_count(l) > 1);
            Arc::clone(flights.entry(key.clone()).or_default())
        };
        Flight { _guard: lock.lock_owned().await }
    }

    /// The kept token for `key`, if it has more than five minutes left at `now`.
    #[must_use]
    pub fn get(&self, key: &MintKey, now: OffsetDateTime) -> Option<MintedToken> {
        let map = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key).filter(|t| fresh(t, now)).cloned()
    }

    /// Keeps `token` for `key`.
    pub fn put(&self, key: MintKey, token: MintedToken, now: OffsetDateTime) {
        let mut map = self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_KEPT {
            map.retain(|_, t| fresh(t, now));
            if map.len() >= MAX_KEPT {
                map.clear();
            }
        }
        map.insert(key, token);
    }
}

fn fresh(t: &MintedToken, now: OffsetDateTime) -> bool {
    (t.expires_at - now).whole_seconds() > REFRESH_BEFORE_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(expires_at: OffsetDateTime) -> MintedToken {
        MintedToken {
            token: Zeroizing::new("ghs_canary".to_owned()),
            expires_at,
            permissions: serde_json::json!({}),
            repositories: vec![],
        }
    }

    #[test]
    fn a_token_is_handed_out_again_until_five_minutes_before_it_expires() {
        let kept = MintedTokens::default();
        let now = OffsetDateTime::now_utc();
        let key = (Uuid::nil(), 1, "{}".to_owned());
        kept.put(key.clone(), token(now + time::Duration::minutes(60)), now);
        assert!(kept.get(&key, now + time::Duration::minutes(54)).is_some());
        assert!(kept.get(&key, now + time::Duration::minutes(56)).is_none());
        assert!(kept.get(&(Uuid::nil(), 2, "{}".to_owned()), now).is_none(), "another version mints afresh");
        assert!(!format!("{:?}", token(now)).contains("canary"));
    }
}
