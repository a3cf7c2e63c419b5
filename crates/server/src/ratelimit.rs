//! The two mechanisms of the abuse limits (applied in `limits.rs`): token buckets keyed by a
//! string (an address, a principal), and lockouts after repeated failures keyed by what is
//! being guessed. In memory, per process: a restart forgets them, which only ever lets a
//! caller try again sooner.
//!
//! Both hold at most [`MAX_KEYS`] entries whatever callers send (keys are often theirs to
//! choose: addresses, key prefixes). Idle entries are swept at most once a second; past the
//! cap, new keys of a rate limiter share one bucket (they are throttled together, never let
//! through unmetered), and new keys of a lockout are not tracked (a lockout only quiets
//! noise; what stops guessing is the entropy of what is guessed).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The key of a client address for limits: an IPv4 address, or the /64 an IPv6 address is in
/// (one host commonly holds a whole /64, so per-address limits per /128 would not limit).
#[must_use]
pub fn address_key(ip: Option<IpAddr>) -> String {
    match ip {
        None => "unknown".to_owned(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

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
    buckets: Mutex<Swept<Bucket>>,
}

/// Entries kept at most.
pub const MAX_KEYS: usize = 100_000;
/// The bucket shared by keys beyond [`MAX_KEYS`].
const OVERFLOW: &str = "\u{0}overflow";

/// A map that is swept of idle entries at most once a second, once it is full.
#[derive(Debug)]
struct Swept<V> {
    entries: HashMap<String, V>,
    swept: Option<Instant>,
}

impl<V> Swept<V> {
    fn new() -> Self {
        Self { entries: HashMap::new(), swept: None }
    }

    /// Sweeps (keeping what `keep` says) when full and not swept within the last second;
    /// then whether `key` may have an entry.
    fn room_for(&mut self, key: &str, now: Instant, keep: impl Fn(&V) -> bool) -> bool {
        if self.entries.contains_key(key) {
            return true;
        }
        if self.entries.len() >= MAX_KEYS
            && self.swept.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1))
        {
            self.entries.retain(|_, v| keep(v));
            self.swept = Some(now);
        }
        self.entries.len() < MAX_KEYS
    }
}

impl RateLimiter {
    /// `burst` requests at once, refilled at `per_second`.
    #[must_use]
    pub fn new(burst: u32, per_second: f64) -> Self {
        Self { burst: f64::from(burst.max(1)), per_second: per_second.max(0.001), buckets: Mutex::new(Swept::new()) }
    }

    /// Takes one token for `key`, or says how long to wait.
    ///
    /// # Errors
    /// The time until a token is available.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (full, per_second) = (self.burst, self.per_second);
        let idle = |b: &Bucket| b.tokens + now.duration_since(b.at).as_secs_f64() * per_second >= full;
        let key = if buckets.room_for(key, now, |b| !idle(b)) { key } else { OVERFLOW };
        let b = buckets.entries.entry(key.to_owned()).or_insert(Bucket { tokens: self.burst, at: now });
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
    entries: Mutex<Swept<Failures>>,
}

impl Lockout {
    /// A lockout with `policy`.
    #[must_use]
    pub fn new(policy: LockoutPolicy) -> Self {
        Self { policy, entries: Mutex::new(Swept::new()) }
    }

    /// How long `key` is still locked out, if it is.
    #[must_use]
    pub fn locked(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.entries.get(key).and_then(|f| f.locked_until).filter(|until| *until > now).map(|until| until - now)
    }

    /// Counts a failure for `key`; locks it out when the count is reached.
    pub fn failed(&self, key: &str) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let live =
            |f: &Failures| f.locked_until.is_some_and(|u| u > now) || now.duration_since(f.since) < self.policy.window;
        if !entries.room_for(key, now, live) {
            return;
        }
        let f = entries.entries.entry(key.to_owned()).or_insert(Failures { count: 0, since: now, locked_until: None });
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
        if entries.entries.get(key).is_some_and(|f| f.locked_until.is_none()) {
            entries.entries.remove(key);
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
    fn memory_is_bounded_whatever_keys_arrive() {
        let r = RateLimiter::new(1, 0.001);
        for n in 0..MAX_KEYS + 10 {
            let _ = r.take(&format!("k{n}"));
        }
        assert_eq!(r.buckets.lock().unwrap().entries.len(), MAX_KEYS + 1, "the cap, and the bucket shared beyond it");
        // Past the cap, new keys share one bucket: the first takes it, the next waits.
        let fresh = RateLimiter::new(1, 0.001);
        for n in 0..MAX_KEYS {
            fresh.take(&format!("k{n}")).unwrap();
        }
        assert!(fresh.take("new-1").is_ok());
        assert!(fresh.take("new-2").is_err(), "keys beyond the cap are throttled together");

        let l = Lockout::new(LockoutPolicy {
            failures: 2,
            window: Duration::from_secs(60),
            lock_for: Duration::from_secs(30),
        });
        for n in 0..MAX_KEYS + 10 {
            l.failed(&format!("k{n}"));
        }
        assert_eq!(l.entries.lock().unwrap().entries.len(), MAX_KEYS);
        l.failed("k0");
        assert!(l.locked("k0").is_some(), "keys already tracked still lock");
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(Some(a)), address_key(Some(b)));
        assert_ne!(address_key(Some(a)), address_key(Some(other)));
        assert_eq!(address_key(Some("::ffff:10.0.0.1".parse().unwrap())), "10.0.0.1");
        assert_eq!(address_key(Some("10.0.0.1".parse().unwrap())), "10.0.0.1");
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
