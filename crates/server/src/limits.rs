//! Where the abuse limits apply: key exchange, enrollment, share creation and share access,
//! secret request pages, and the failures of unauthenticated callers. Lockouts belong to what is being guessed (a
//! share's passphrase, a key prefix); limits per address throttle for seconds and never lock
//! anyone out, since behind an ingress every client has the same address.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::Config;
use crate::error::ApiError;
use crate::ratelimit::{Lockout, LockoutPolicy, RateLimiter};
use crate::unauthenticated::Unauthenticated;

/// The limits of one server.
#[derive(Debug)]
pub struct Limits {
    enroll: RateLimiter,
    share_create: RateLimiter,
    share_open: RateLimiter,
    tool_calls: RateLimiter,
    request_page_ip: RateLimiter,
    request_page_row: RateLimiter,
    /// Lockouts of what is being guessed: a share's passphrase, a key prefix.
    guessed: Lockout,
    /// Failed unauthenticated requests per address: counted, summarised, throttled.
    pub unauthenticated: Unauthenticated,
    /// Event streams open per identity.
    pub streams: StreamQuota,
}

/// How many event streams each identity holds open, against a cap: one agent's loop that
/// opens streams and never closes them would otherwise hold connections, tasks and memory up
/// to the server's connection limit.
#[derive(Debug)]
pub struct StreamQuota {
    max: usize,
    open: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<uuid::Uuid, usize>>>,
}

/// One open stream of an identity, counted until dropped.
#[derive(Debug)]
pub struct StreamTicket {
    open: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<uuid::Uuid, usize>>>,
    principal: uuid::Uuid,
}

impl StreamQuota {
    /// A ticket for one more stream of `principal`.
    ///
    /// # Errors
    /// 429 when the identity holds as many as it may.
    pub fn open(&self, principal: uuid::Uuid) -> Result<StreamTicket, ApiError> {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(principal).or_default();
        if *n >= self.max {
            return Err(ApiError::TooManyRequests {
                retry_after: 5,
                detail: format!(
                    "this identity holds {} event streams open, the most it may: close one first",
                    self.max
                ),
            });
        }
        *n += 1;
        Ok(StreamTicket { open: std::sync::Arc::clone(&self.open), principal })
    }
}

impl Drop for StreamTicket {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.principal) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.principal);
            }
        }
    }
}

fn too_many(wait: Duration, what: &str) -> ApiError {
    let retry_after = wait.as_secs().max(1);
    ApiError::TooManyRequests { retry_after, detail: format!("too many {what}; retry in {retry_after} s") }
}

fn ip_key(ip: Option<IpAddr>) -> String {
    format!("ip:{}", crate::ratelimit::address_key(ip))
}

impl Limits {
    /// Limits from the configuration.
    #[must_use]
    pub fn new(config: &Config) -> Self {
        Self {
            enroll: RateLimiter::new(10, 1.0 / 6.0),
            share_create: RateLimiter::new(10, 1.0 / 6.0),
            share_open: RateLimiter::new(config.auth_rate_burst, config.auth_rate_per_second),
            tool_calls: RateLimiter::new(config.mcp_tool_call_burst, config.mcp_tool_calls_per_second),
            request_page_ip: RateLimiter::new(config.auth_rate_burst, config.auth_rate_per_second),
            // A user loads a link's page a few times; a loop on one link is refused.
            request_page_row: RateLimiter::new(20, 0.1),
            guessed: Lockout::new(LockoutPolicy {
                failures: config.lockout_failures,
                window: Duration::from_secs(600),
                lock_for: Duration::from_secs(900),
            }),
            unauthenticated: Unauthenticated::new(config.auth_rate_burst, config.auth_rate_per_second),
            streams: StreamQuota { max: config.events_max_streams_per_identity, open: Default::default() },
        }
    }

    /// After a key exchange whose key did not verify: one more failure for its prefix. A
    /// prefix that failed too often answers 429 instead of 401 for a while; a key that
    /// verifies is never refused, whatever others tried with its prefix (keys have 256 bits:
    /// the lockout only quiets noise, it is not what stops guessing).
    #[must_use]
    pub fn exchange_failed(&self, key_prefix: &str) -> Option<ApiError> {
        let key = format!("key:{key_prefix}");
        self.guessed.failed(&key);
        self.guessed.locked(&key).map(|wait| too_many(wait, "failed attempts with this key"))
    }

    /// Before an enrollment request or status poll.
    ///
    /// # Errors
    /// 429.
    pub fn before_enroll(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        self.enroll.take(&ip_key(ip)).map_err(|w| too_many(w, "enrollment requests"))
    }

    /// Before a principal creates a share (10 a minute).
    ///
    /// # Errors
    /// 429.
    pub fn before_share_create(&self, principal: &str) -> Result<(), ApiError> {
        self.share_create.take(principal).map_err(|w| too_many(w, "shares created"))
    }

    /// Before an MCP tool call by a principal: an agent stuck in a loop spends its own budget,
    /// not the server's.
    ///
    /// # Errors
    /// 429.
    pub fn before_tool_call(&self, principal: &str) -> Result<(), ApiError> {
        self.tool_calls.take(principal).map_err(|w| too_many(w, "tool calls"))
    }

    /// Before a share is opened: a rate per address (each opening may cost a passphrase hash;
    /// it throttles for seconds), and the share's own lockout after repeated wrong
    /// passphrases (which holds for everyone: a passphrase is what is being guessed).
    ///
    /// # Errors
    /// 429.
    pub fn before_share_open(&self, ip: Option<IpAddr>, share: &str) -> Result<(), ApiError> {
        self.share_open.take(&ip_key(ip)).map_err(|w| too_many(w, "share requests"))?;
        match self.guessed.locked(&format!("share:{share}")) {
            Some(wait) => Err(too_many(wait, "wrong passphrases for this share")),
            None => Ok(()),
        }
    }

    /// Before a secret request's page is shown or its form taken: a rate per address and one
    /// per link, so that neither a guesser nor a link's holder turns page loads into audit
    /// writes without end.
    ///
    /// # Errors
    /// 429.
    pub fn before_request_page(&self, ip: Option<IpAddr>, row: &str) -> Result<(), ApiError> {
        self.request_page_ip.take(&ip_key(ip)).map_err(|w| too_many(w, "secret request pages"))?;
        self.request_page_row.take(row).map_err(|w| too_many(w, "loads of this page"))
    }

    /// After a passphrase check on a share.
    pub fn after_share_passphrase(&self, share: &str, ok: bool) {
        let key = format!("share:{share}");
        if ok {
            self.guessed.succeeded(&key);
        } else {
            self.guessed.failed(&key);
        }
    }
}
