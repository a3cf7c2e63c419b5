//! Failed requests of callers who are not (yet) authenticated: bad tokens, wrong keys, wrong
//! share passphrases, unknown pairing ids. Anyone can send them, and each audit event costs a
//! durable write that real requests wait behind, so they are counted, not each written:
//! per client address, the first failure of each kind (action) in a window is recorded as it
//! happens (an attack shows in the trail at once), the rest are counted and written as one
//! summary event when the window ends. Past a budget of failures an address is throttled for seconds (429 with
//! `Retry-After`), never locked out.

use clawvault_core::action::Action;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clawvault_core::audit::{AuditEvent, Outcome};
use clawvault_core::time_util::{now, rfc3339};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ratelimit::RateLimiter;

/// How long a window of counted failures lasts.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at once; beyond that, new ones share one window.
const MAX_ADDRESSES: usize = 100_000;
/// The window shared by addresses beyond [`MAX_ADDRESSES`].
const OVERFLOW: &str = "other addresses";

/// What to do with one failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Write its audit event now: the first of its kind in its window.
    Record,
    /// Counted into the window's summary; no event of its own.
    Summarised,
    /// Over the address's failure budget: answer 429, retry after this long (counted too).
    Throttled(Duration),
}

#[derive(Debug)]
struct Window {
    opened: Instant,
    opened_at: OffsetDateTime,
    /// Actions whose first failure was recorded.
    recorded: BTreeSet<&'static str>,
    /// Failures after the recorded first ones, by action.
    counted: BTreeMap<&'static str, u64>,
    throttled: u64,
}

/// A window's failures, to be written as one summary event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The client address (or "other addresses").
    pub address: String,
    /// Failures counted, by action.
    pub counted: BTreeMap<&'static str, u64>,
    /// How many of them were answered 429.
    pub throttled: u64,
    /// When the window opened.
    pub since: OffsetDateTime,
}

impl Summary {
    /// Failures counted in all.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.counted.values().sum()
    }
}

/// The per-address ledger of unauthenticated failures.
#[derive(Debug)]
pub struct Unauthenticated {
    budget: RateLimiter,
    windows: Mutex<HashMap<String, Window>>,
}

impl Unauthenticated {
    /// A ledger throttling an address after `burst` failures, refilled at `per_second`.
    #[must_use]
    pub fn new(burst: u32, per_second: f64) -> Self {
        Self { budget: RateLimiter::new(burst, per_second), windows: Mutex::new(HashMap::new()) }
    }

    /// Notes one failure of `action` from `ip`.
    pub fn note(&self, ip: Option<IpAddr>, action: &'static str) -> Verdict {
        let address = crate::ratelimit::address_key(ip);
        let throttle = self.budget.take(&address).err();
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = if windows.len() >= MAX_ADDRESSES && !windows.contains_key(&address) {
            OVERFLOW.to_owned()
        } else {
            address
        };
        let w = windows.entry(key).or_insert_with(|| Window {
            opened: Instant::now(),
            opened_at: OffsetDateTime::now_utc(),
            recorded: BTreeSet::new(),
            counted: BTreeMap::new(),
            throttled: 0,
        });
        match throttle {
            Some(wait) => {
                *w.counted.entry(action).or_default() += 1;
                w.throttled += 1;
                Verdict::Throttled(wait)
            }
            None if w.recorded.insert(action) => Verdict::Record,
            None => {
                *w.counted.entry(action).or_default() += 1;
                Verdict::Summarised
            }
        }
    }

    /// Takes the windows that ended by `now` (all of them with `everything`), returning those
    /// that counted failures.
    pub fn take_ended(&self, now: Instant, everything: bool) -> Vec<Summary> {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let ended: Vec<String> = windows
            .iter()
            .filter(|(_, w)| everything || now.duration_since(w.opened) >= WINDOW)
            .map(|(k, _)| k.clone())
            .collect();
        ended
            .into_iter()
            .filter_map(|address| {
                let w = windows.remove(&address)?;
                (!w.counted.is_empty()).then_some(Summary {
                    address,
                    counted: w.counted,
                    throttled: w.throttled,
                    since: w.opened_at,
                })
            })
            .collect()
    }
}

/// The audit event of a window's summary.
#[must_use]
pub fn summary_event(s: &Summary) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        created_at: now(),
        action: Action::AuthFailures.as_str().to_owned(),
        outcome: Outcome::Denied,
        actor_type: "anonymous".to_owned(),
        actor_id: String::new(),
        resource_type: Action::AuthFailures.resource_type().to_owned(),
        resource_id: s.address.clone(),
        vault_id: None,
        ip_address: s.address.parse::<IpAddr>().ok().map(|ip| ip.to_string()),
        details: serde_json::json!({
            "count": s.total(),
            "throttled": s.throttled,
            "by_action": s.counted,
            "since": rfc3339(s.since),
        })
        .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_is_recorded_the_rest_summarised_then_throttled() {
        let ledger = Unauthenticated::new(3, 0.001);
        let ip: Option<IpAddr> = Some([10, 0, 0, 1].into());
        assert_eq!(ledger.note(ip, "auth.token"), Verdict::Record);
        assert_eq!(ledger.note(ip, "auth.token"), Verdict::Summarised);
        assert_eq!(ledger.note(ip, "share.access"), Verdict::Record, "the first of each kind");
        assert!(matches!(ledger.note(ip, "share.access"), Verdict::Throttled(_)));
        assert_eq!(ledger.note(Some([10, 0, 0, 2].into()), "auth.token"), Verdict::Record, "addresses are separate");
        assert!(ledger.take_ended(Instant::now(), false).is_empty(), "the window is still open");
        let mut all = ledger.take_ended(Instant::now(), true);
        all.sort_by(|a, b| a.address.cmp(&b.address));
        assert_eq!(all.len(), 1, "a window with only its recorded first failure needs no summary");
        assert_eq!((all[0].address.as_str(), all[0].total(), all[0].throttled), ("10.0.0.1", 2, 1));
        assert_eq!(all[0].counted.get("share.access"), Some(&1));
        assert!(matches!(ledger.note(ip, "auth.token"), Verdict::Throttled(_)), "the budget outlives the window");
    }
}
