//! Where the abuse limits apply: key exchange, enrolment, share creation and share access.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::Config;
use crate::error::ApiError;
use crate::ratelimit::{Lockout, LockoutPolicy, RateLimiter};

/// The limits of one server.
#[derive(Debug)]
pub struct Limits {
    auth: RateLimiter,
    enroll: RateLimiter,
    share_create: RateLimiter,
    share_open: RateLimiter,
    lockout: Lockout,
}

fn too_many(wait: Duration, what: &str) -> ApiError {
    let retry_after = wait.as_secs().max(1);
    ApiError::TooManyRequests { retry_after, detail: format!("too many {what}; retry in {retry_after} s") }
}

fn ip_key(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "ip:unknown".to_owned(), |ip| format!("ip:{ip}"))
}

impl Limits {
    /// Limits from the configuration.
    #[must_use]
    pub fn new(config: &Config) -> Self {
        Self {
            auth: RateLimiter::new(config.auth_rate_burst, config.auth_rate_per_second),
            enroll: RateLimiter::new(10, 1.0 / 6.0),
            share_create: RateLimiter::new(10, 1.0 / 6.0),
            share_open: RateLimiter::new(config.auth_rate_burst, config.auth_rate_per_second),
            lockout: Lockout::new(LockoutPolicy {
                failures: config.lockout_failures,
                window: Duration::from_secs(600),
                lock_for: Duration::from_secs(900),
            }),
        }
    }

    fn locked(&self, keys: &[&str]) -> Result<(), ApiError> {
        match keys.iter().filter_map(|k| self.lockout.locked(k)).max() {
            Some(wait) => Err(too_many(wait, "failed attempts")),
            None => Ok(()),
        }
    }

    /// Before a key exchange: rate limit per address, lockouts per address and key prefix.
    ///
    /// # Errors
    /// 429 with `Retry-After`.
    pub fn before_exchange(&self, ip: Option<IpAddr>, key_prefix: &str) -> Result<(), ApiError> {
        self.auth.take(&ip_key(ip)).map_err(|w| too_many(w, "authentication requests"))?;
        self.locked(&[&ip_key(ip), &format!("key:{key_prefix}")])
    }

    /// After a key exchange: failures count towards lockouts, a success clears them.
    pub fn after_exchange(&self, ip: Option<IpAddr>, key_prefix: &str, ok: bool) {
        for key in [ip_key(ip), format!("key:{key_prefix}")] {
            if ok {
                self.lockout.succeeded(&key);
            } else {
                self.lockout.failed(&key);
            }
        }
    }

    /// Before an enrolment request or status poll.
    ///
    /// # Errors
    /// 429.
    pub fn before_enroll(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        self.enroll.take(&ip_key(ip)).map_err(|w| too_many(w, "enrolment requests"))
    }

    /// Before a principal creates a share (10 a minute).
    ///
    /// # Errors
    /// 429.
    pub fn before_share_create(&self, principal: &str) -> Result<(), ApiError> {
        self.share_create.take(principal).map_err(|w| too_many(w, "shares created"))
    }

    /// Before a share is opened: rate limit per address, lockouts per address and share.
    ///
    /// # Errors
    /// 429.
    pub fn before_share_open(&self, ip: Option<IpAddr>, share: &str) -> Result<(), ApiError> {
        self.share_open.take(&ip_key(ip)).map_err(|w| too_many(w, "share requests"))?;
        self.locked(&[&ip_key(ip), &format!("share:{share}")])
    }

    /// After a passphrase check on a share.
    pub fn after_share_passphrase(&self, ip: Option<IpAddr>, share: &str, ok: bool) {
        for key in [ip_key(ip), format!("share:{share}")] {
            if ok {
                self.lockout.succeeded(&key);
            } else {
                self.lockout.failed(&key);
            }
        }
    }
}
