//! What each identity spends on each proxy route, against the route's budget: calls per
//! minute and per UTC day, answer bytes per day, and calls in flight at once. A crash-looping
//! bot hits its own budget instead of the team's provider quota.
//!
//! Counting happens in memory on the hot path (no write per call). Daily totals are added to
//! the store about once a second and read back from it, so that they survive a restart and
//! add up across replicas; per-minute and in-flight counts are each server's own. A replica
//! sees the others' calls of the day within a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use clawvault_core::route::Budget;
use clawvault_core::time_util::now;
use clawvault_store::{ProxyUsageRecord, Store};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// How often counts are added to the store and read back.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Counters idle this long (nothing in flight or unwritten) are dropped.
const IDLE_COUNTER_SECONDS: i64 = 300;
/// Most usage rows read back at once (one day's worth for many agents and routes).
pub const MAX_USAGE_ROWS: u32 = 10_000;

type Key = (Uuid, String);

/// Requests and answer bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Spent {
    requests: u64,
    bytes: u64,
}

impl Spent {
    fn add(&mut self, other: Spent) {
        self.requests += other.requests;
        self.bytes += other.bytes;
    }
}

#[derive(Debug, Default)]
struct Counter {
    minute: i64,
    in_minute: u64,
    day: i64,
    /// The day's totals as the store last said (`None` until read).
    stored: Option<Spent>,
    /// Being written to the store.
    writing: Spent,
    /// Not yet written.
    unwritten: Spent,
    /// Counted on a day that has ended and not yet written: written under that day.
    past: Option<(i64, Spent)>,
    in_flight: u64,
    last_used: i64,
}

impl Counter {
    fn roll(&mut self, minute: i64, day: i64) {
        if self.minute != minute {
            self.minute = minute;
            self.in_minute = 0;
        }
        if self.day != day {
            // What the past day counted and no flush wrote yet is written under that day; a
            // new day starts from zero.
            let unwritten = std::mem::take(&mut self.unwritten);
            if unwritten != Spent::default() {
                let mut past = self.past.map_or(Spent::default(), |(_, s)| s);
                past.add(unwritten);
                self.past = Some((self.day, past));
            }
            self.day = day;
            self.stored = Some(Spent::default());
            self.writing = Spent::default();
        }
    }

    fn today(&self) -> Spent {
        let mut total = self.stored.unwrap_or_default();
        total.add(self.writing);
        total.add(self.unwritten);
        total
    }
}

type Counters = Mutex<HashMap<Key, Counter>>;

/// Every identity's counters on every route.
#[derive(Debug, Default)]
pub struct Budgets {
    counters: Arc<Counters>,
    /// One flush at a time.
    flushing: tokio::sync::Mutex<()>,
}

/// A call admitted against a budget: counts as in flight until dropped.
#[derive(Debug)]
pub struct Slot {
    counters: Weak<Counters>,
    key: Key,
    /// The day's answer bytes the budget allows, if limited.
    bytes_per_day: Option<u64>,
}

impl Slot {
    /// Counts answer bytes as they pass; `false` once the day's budget of them is spent (the
    /// answer is cut there: one call cannot spend more than the day allows).
    pub fn answered(&self, bytes: u64) -> bool {
        let Some(counters) = self.counters.upgrade() else { return true };
        let mut counters = counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(c) = counters.get_mut(&self.key) else { return true };
        c.unwritten.bytes += bytes;
        self.bytes_per_day.is_none_or(|limit| c.today().bytes <= limit)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(counters) = self.counters.upgrade() else { return };
        let mut counters = counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = counters.get_mut(&self.key) {
            c.in_flight = c.in_flight.saturating_sub(1);
        }
    }
}

fn minute_and_day() -> (i64, i64, u64, u64) {
    let t = now().unix_timestamp();
    let (minute, day) = (t.div_euclid(60), t.div_euclid(86_400));
    let to_next_minute = u64::try_from(60 - t.rem_euclid(60)).unwrap_or(60);
    let to_next_day = u64::try_from(86_400 - t.rem_euclid(86_400)).unwrap_or(86_400);
    (minute, day, to_next_minute, to_next_day)
}

impl Budgets {
    /// Admits one call of `principal` on `route` within `budget`, or says how long to wait.
    ///
    /// # Errors
    /// 429 with the seconds until the exhausted budget renews; storage failures reading the
    /// day's totals the first time.
    pub async fn admit(&self, store: &dyn Store, principal: Uuid, route: &str, budget: &Budget) -> ApiResult<Slot> {
        let key = (principal, route.to_owned());
        let (minute, day, to_next_minute, to_next_day) = minute_and_day();
        let known = {
            let counters = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            counters.get(&key).is_some_and(|c| c.day == day && c.stored.is_some())
        };
        if !known {
            // The day's totals so far, from this server's earlier life or other replicas.
            let rows = store.proxy_usage(day, Some(route), Some(principal), 1).await?;
            let stored = rows.first().filter(|r| r.day == day).map_or(Spent::default(), |r| Spent {
                requests: u64::try_from(r.requests).unwrap_or(0),
                bytes: u64::try_from(r.response_bytes).unwrap_or(0),
            });
            let mut counters = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let c = counters.entry(key.clone()).or_default();
            c.roll(minute, day);
            if c.writing == Spent::default() {
                c.stored = Some(stored);
            }
        }
        let mut counters = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let c = counters.entry(key.clone()).or_default();
        c.roll(minute, day);
        let today = c.today();
        let exhausted = |what: String, retry_after: u64| {
            Err(ApiError::TooManyRequests {
                retry_after,
                detail: format!(
                    "the budget of this identity on proxy route {route:?} is spent: {what}; retry in {retry_after} s"
                ),
            })
        };
        if let Some(limit) = budget.concurrent
            && c.in_flight >= limit
        {
            return exhausted(format!("{limit} calls in flight at once"), 1);
        }
        if let Some(limit) = budget.requests_per_minute
            && c.in_minute >= limit
        {
            return exhausted(format!("{limit} calls per minute"), to_next_minute);
        }
        if let Some(limit) = budget.requests_per_day
            && today.requests >= limit
        {
            return exhausted(format!("{limit} calls per day (UTC)"), to_next_day);
        }
        if let Some(limit) = budget.response_bytes_per_day
            && today.bytes >= limit
        {
            return exhausted(format!("{limit} answer bytes per day (UTC)"), to_next_day);
        }
        c.in_minute += 1;
        c.unwritten.requests += 1;
        c.in_flight += 1;
        c.last_used = now().unix_timestamp();
        Ok(Slot { counters: Arc::downgrade(&self.counters), key, bytes_per_day: budget.response_bytes_per_day })
    }

    /// Adds what was counted since the last flush to the store and reads the day's totals back
    /// (other replicas' calls included); drops counters nobody used for a while.
    ///
    /// # Errors
    /// Storage failures (the counts are kept for the next flush).
    pub async fn flush(&self, store: &dyn Store) -> ApiResult<()> {
        let _one = self.flushing.lock().await;
        let (minute, day, _, _) = minute_and_day();
        let row = |(principal, route): &Key, day: i64, spent: Spent| ProxyUsageRecord {
            principal_id: *principal,
            route: route.clone(),
            day,
            requests: i64::try_from(spent.requests).unwrap_or(i64::MAX),
            response_bytes: i64::try_from(spent.bytes).unwrap_or(i64::MAX),
        };
        let mut rows = Vec::new();
        let mut past_taken = Vec::new();
        let mut routes: Vec<String> = Vec::new();
        {
            let mut counters = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for (key, c) in counters.iter_mut() {
                if !routes.contains(&key.1) {
                    routes.push(key.1.clone());
                }
                if let Some((past_day, spent)) = c.past.take() {
                    rows.push(row(key, past_day, spent));
                    past_taken.push((key.clone(), past_day, spent));
                }
                if c.unwritten == Spent::default() {
                    continue;
                }
                rows.push(row(key, c.day, c.unwritten));
                let moved = std::mem::take(&mut c.unwritten);
                c.writing.add(moved);
            }
        }
        if !rows.is_empty()
            && let Err(e) = store.add_proxy_usage(&rows).await
        {
            let mut counters = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for c in counters.values_mut() {
                let moved = std::mem::take(&mut c.writing);
                c.unwritten.add(moved);
            }
            for (key, past_day, spent) in past_taken {
                if let Some(c) = counters.get_mut(&key) {
                    c.past = Some((past_day, spent));
                }
            }
            return Err(e.into());
        }
        // Read back the day's totals (other replicas' calls included) of the routes counted
        // here: few routes, each with at most a row per identity.
        let mut totals: HashMap<Key, Spent> = HashMap::new();
        for route in &routes {
            for r in store.proxy_usage(day, Some(route), None, MAX_USAGE_ROWS).await? {
                if r.day == day {
                    let spent = Spent {
                        requests: u64::try_from(r.requests).unwrap_or(0),
                        bytes: u64::try_from(r.response_bytes).unwrap_or(0),
                    };
                    totals.insert((r.principal_id, r.route), spent);
                }
            }
        }
        let mut counters = self.counters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = now().unix_timestamp();
        counters.retain(|_, c| {
            c.in_flight > 0
                || c.unwritten != Spent::default()
                || c.past.is_some()
                || at - c.last_used < IDLE_COUNTER_SECONDS
        });
        for (key, c) in counters.iter_mut() {
            c.roll(minute, day);
            c.writing = Spent::default();
            c.stored = Some(totals.get(key).copied().unwrap_or_default());
        }
        Ok(())
    }
}

/// Today's day number (days since 1970-01-01, UTC).
#[must_use]
pub fn today() -> i64 {
    minute_and_day().1
}
