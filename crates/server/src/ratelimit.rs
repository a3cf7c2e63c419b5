//! The two mechanisms of the abuse limits (applied in `limits.rs`): token buckets keyed by a
//! string (an address, a principal), and lockouts after repeated failures keyed by what is
//! being guessed. In memory, per process: a restart forgets them, which only ever lets a
//! caller try again sooner.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failures, in what window, lock a caller out for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures that trigger a lockout.
    pub failures: u32,
    /// The window they are counted in.
    pub window: Duration,
    /// How long the lockout lasts.
    pub lock_for: Duration,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by a string (a client address, a route).
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Entries kept before idle ones are dropped.
const MAX_KEYS: usize = 100_000;

impl RateLimiter {
    /// `burst` requests at once, refilled at `per_second`.
    #[must_use]
    pub fn new(burst: u32, per_second: f64) -> Self {
        Self { burst: f64::from(burst.max(1)), per_second: per_second.max(0.001), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key`, or says how long to wait.
    ///
    /// # Errors
    /// The time until a token is available.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS {
            let full = self.burst;
            let per_second = self.per_second;
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < full);
        }
        let b = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: self.burst, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_second).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_second))
        }
    }
}

#[derive(Debug)]
struct Failures {
    count: u32,
    since: Instant,
    locked_until: Option<Instant>,
}

/// Failure counts and lockouts keyed by what is being guessed (a share, a key prefix).
#[derive(Debug)]
pub struct Lockout {
    policy: LockoutPolicy,
    entries: Mutex<HashMap<String, Failures>>,
}

impl Lockout {
    /// A lockout with `policy`.
    #[must_use]
    pub fn new(policy: LockoutPolicy) -> Self {
        Self { policy, entries: Mutex::new(HashMap::new()) }
    }

    /// How long `key` is still locked out, if it is.
    #[must_use]
    pub fn locked(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.get(key).and_then(|f| f.locked_until).filter(|until| *until > now).map(|until| until - now)
    }

    /// Counts a failure for `key`; locks it out when the count is reached.
    pub fn failed(&self, key: &str) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, f| {
                f.locked_until.is_some_and(|u| u > now) || now.duration_since(f.since) < self.policy.window
            });
        }
        let f = entries.entry(key.to_owned()).or_insert(Failures { count: 0, since: now, locked_until: None });
        if now.duration_since(f.since) > self.policy.window {
            *f = Failures { count: 0, since: now, locked_until: None };
        }
        f.count += 1;
        if f.count >= self.policy.failures {
            f.locked_until = Some(now + self.policy.lock_for);
        }
    }

    /// Forgets `key`'s failures (a success).
    pub fn succeeded(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.get(key).is_some_and(|f| f.locked_until.is_none()) {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_refills() {
        let r = RateLimiter::new(3, 1000.0);
        for _ in 0..3 {
            assert!(r.take("a").is_ok());
        }
        assert!(r.take("a").is_err());
        assert!(r.take("b").is_ok(), "keys are separate");
        std::thread::sleep(Duration::from_millis(5));
        assert!(r.take("a").is_ok(), "refilled");
        let slow = RateLimiter::new(1, 1.0);
        slow.take("x").unwrap();
        let wait = slow.take("x").unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
    }

    #[test]
    fn lockout_after_repeated_failures() {
        let l = Lockout::new(LockoutPolicy {
            failures: 3,
            window: Duration::from_secs(60),
            lock_for: Duration::from_secs(30),
        });
        l.failed("ip");
        l.failed("ip");
        assert!(l.locked("ip").is_none());
        l.succeeded("ip");
        l.failed("ip");
        l.failed("ip");
        assert!(l.locked("ip").is_none(), "a success resets the count");
        l.failed("ip");
        let left = l.locked("ip").unwrap();
        assert!(left > Duration::from_secs(29));
        l.succeeded("ip");
        assert!(l.locked("ip").is_some(), "a success does not lift a lockout");
    }
}
