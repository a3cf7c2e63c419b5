//! The policy engine: who may do what on which secret paths.
//!
//! A [`Policy`] grants (or, with [`Effect::Deny`], refuses) a set of [`Permission`]s on the
//! paths a [`PathPattern`] matches, optionally only from some client addresses, only in a time
//! window, and only until it expires. [`decide`] is deny by default, and an applicable deny
//! policy wins over any allow. Decisions are made on the (validated, normalised) path alone,
//! before anything is looked up, so a refusal says nothing about what exists.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset, Weekday};

use crate::path::SecretPath;

/// What a caller wants to do to a secret path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Reveal the value.
    Read,
    /// Inject the value (run, proxy, MCP tools) without revealing it.
    Use,
    /// Write a new version.
    Write,
    /// Delete.
    Delete,
    /// Rotate (server-generated value).
    Rotate,
    /// List paths and metadata.
    List,
    /// Share with others.
    Share,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 7] =
        [Self::Read, Self::Use, Self::Write, Self::Delete, Self::Rotate, Self::List, Self::Share];

    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Use => "use",
            Self::Write => "write",
            Self::Delete => "delete",
            Self::Rotate => "rotate",
            Self::List => "list",
            Self::Share => "share",
        }
    }

    /// Granted permissions that also allow `self`: `read` covers `use` and `list` (1Claw's
    /// read is "GET value + list"); `write` covers `delete` and `rotate` (as in 1Claw).
    fn implied_by(self) -> &'static [Permission] {
        match self {
            Self::Use => &[Self::Use, Self::Read],
            Self::List => &[Self::List, Self::Read],
            Self::Delete => &[Self::Delete, Self::Write],
            Self::Rotate => &[Self::Rotate, Self::Write],
            Self::Read => &[Self::Read],
            Self::Write => &[Self::Write],
            Self::Share => &[Self::Share],
        }
    }
}

impl FromStr for Permission {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| PolicyError::Permission(s.chars().take(40).collect()))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Grants.
    #[default]
    Allow,
    /// Refuses, and wins over every allow.
    Deny,
}

impl Effect {
    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

impl FromStr for Effect {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            other => Err(PolicyError::Effect(other.chars().take(40).collect())),
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a policy part was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A path pattern is malformed.
    #[error(
        "secret_path_pattern {0:?} is invalid: use `/`-separated segments of letters, digits, `-`, `_`, `.`, or `*` (one segment) and `**` (any number)"
    )]
    Pattern(String),
    /// A path pattern is longer than the limits.
    #[error("secret_path_pattern is too long: at most {MAX_PATTERN_LEN} bytes and {MAX_PATTERN_SEGMENTS} segments")]
    PatternTooLong,
    /// An address range is malformed.
    #[error("ip_allowlist entry {0:?} is not an address or CIDR range such as 10.0.0.0/8 or 2001:db8::/32")]
    Cidr(String),
    /// A time window is malformed.
    #[error("time_window: {0}")]
    TimeWindow(String),
    /// Conditions are not an object.
    #[error("conditions must be a JSON object such as {{\"ip_allowlist\": [\"10.0.0.0/8\"]}}, or null")]
    NotAnObject,
    /// Conditions carry keys we do not know.
    #[error("conditions: unknown key(s) {0}; known keys are ip_allowlist and time_window")]
    UnknownCondition(String),
    /// No permissions given.
    #[error("permissions must name at least one of read, use, write, delete, rotate, list, share")]
    NoPermissions,
    /// A permission we do not know.
    #[error("permission {0:?} is unknown: use read, use, write, delete, rotate, list, share")]
    Permission(String),
    /// An effect we do not know.
    #[error("effect {0:?} is unknown: use allow or deny")]
    Effect(String),
}

/// Longest path pattern, in bytes.
pub const MAX_PATTERN_LEN: usize = 256;
/// Most segments in a path pattern.
pub const MAX_PATTERN_SEGMENTS: usize = 32;

/// A glob over path segments: `*` matches exactly one segment, `**` any number (also none).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PathPattern {
    raw: String,
    segments: Vec<Seg>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Seg {
    Literal(String),
    One,
    Any,
}

impl PathPattern {
    /// Parses a pattern.
    ///
    /// # Errors
    /// [`PolicyError::Pattern`], or [`PolicyError::PatternTooLong`] past
    /// [`MAX_PATTERN_LEN`] bytes or [`MAX_PATTERN_SEGMENTS`] segments.
    pub fn parse(raw: &str) -> Result<Self, PolicyError> {
        let bad = || PolicyError::Pattern(raw.chars().take(80).collect());
        if raw.is_empty() {
            return Err(bad());
        }
        if raw.len() > MAX_PATTERN_LEN || raw.split('/').count() > MAX_PATTERN_SEGMENTS {
            return Err(PolicyError::PatternTooLong);
        }
        let mut segments = Vec::new();
        for s in raw.split('/') {
            let seg = match s {
                "*" => Seg::One,
                "**" => Seg::Any,
                "" | "." | ".." => return Err(bad()),
                lit if lit.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) => {
                    Seg::Literal(lit.to_owned())
                }
                _ => return Err(bad()),
            };
            // `**/**` matches what one `**` matches: keep one.
            if !(seg == Seg::Any && segments.last() == Some(&Seg::Any)) {
                segments.push(seg);
            }
        }
        Ok(Self { raw: raw.to_owned(), segments })
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether `path` matches, in time proportional to pattern segments × path segments
    /// whatever the pattern: one pass per pattern segment over the set of path positions the
    /// pattern so far can reach, never backtracking.
    #[must_use]
    pub fn matches(&self, path: &SecretPath) -> bool {
        let segs: Vec<&str> = path.segments().collect();
        // reach[j]: the pattern so far matches exactly the first j path segments.
        let mut reach = vec![false; segs.len() + 1];
        reach[0] = true;
        for seg in &self.segments {
            if *seg == Seg::Any {
                let mut seen = false;
                for r in &mut reach {
                    seen |= *r;
                    *r = seen;
                }
                continue;
            }
            for j in (1..reach.len()).rev() {
                let fits = match seg {
                    Seg::Literal(l) => l == segs[j - 1],
                    Seg::One | Seg::Any => true,
                };
                reach[j] = reach[j - 1] && fits;
            }
            reach[0] = false;
            if !reach.contains(&true) {
                return false;
            }
        }
        reach[segs.len()]
    }
}

/// An address range (`10.0.0.0/8`, `2001:db8::/32`, or a single address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PolicyError::Cidr(s.chars().take(60).collect());
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Self { network, prefix })
    }
}

impl Cidr {
    /// Whether `ip` is inside the range (IPv4-mapped IPv6 addresses count as IPv4).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u128::from(u32::from(n)), 32, self.prefix) == masked(u128::from(u32::from(a)), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), 128, self.prefix) == masked(u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn masked(v: u128, bits: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let shift = u32::from(bits - prefix);
    (v >> shift) << shift
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// A daily window: from `start` to `end` (local time at `tz`), on `days`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeWindow {
    start: (u8, u8),
    end: (u8, u8),
    days: Vec<Weekday>,
    tz: UtcOffset,
}

/// The JSON form of a time window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindowSpec {
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM` (a window may wrap past midnight).
    pub end: String,
    /// `mon`..`sun`; empty or absent means every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// `UTC` or an offset such as `+02:00`.
    #[serde(default = "utc")]
    pub tz: String,
}

fn utc() -> String {
    "UTC".to_owned()
}

/// `HH:MM`, two digits each.
fn hhmm(s: &str) -> Result<(u8, u8), PolicyError> {
    let err = || PolicyError::TimeWindow(format!("{s:?} is not a time of day such as 09:00"));
    let (h, m) = s.split_once(':').ok_or_else(err)?;
    let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return Err(err());
    }
    let h: u8 = h.parse().ok().filter(|h| *h < 24).ok_or_else(err)?;
    let m: u8 = m.parse().ok().filter(|m| *m < 60).ok_or_else(err)?;
    Ok((h, m))
}

/// The end of a window: a time of day, or `24:00` for the end of the day.
fn end_of_window(s: &str) -> Result<(u8, u8), PolicyError> {
    if s == "24:00" { Ok((24, 0)) } else { hhmm(s) }
}

fn weekday(s: &str) -> Result<Weekday, PolicyError> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        other => {
            return Err(PolicyError::TimeWindow(format!(
                "{other:?} is not a day: use mon, tue, wed, thu, fri, sat, sun"
            )));
        }
    })
}

fn offset(s: &str) -> Result<UtcOffset, PolicyError> {
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return Ok(UtcOffset::UTC);
    }
    let err = || {
        PolicyError::TimeWindow(format!(
            "tz {s:?} is not UTC or an offset such as +02:00 (named zones are not supported)"
        ))
    };
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1i8, &s[1..]),
        Some(b'-') => (-1i8, &s[1..]),
        _ => return Err(err()),
    };
    let (h, m) = hhmm(rest).map_err(|_| err())?;
    let h = i8::try_from(h).map_err(|_| err())?;
    let m = i8::try_from(m).map_err(|_| err())?;
    UtcOffset::from_hms(sign * h, sign * m, 0).map_err(|_| err())
}

impl TimeWindow {
    /// Validates a spec.
    ///
    /// # Errors
    /// [`PolicyError::TimeWindow`] naming the bad field.
    pub fn from_spec(spec: &TimeWindowSpec) -> Result<Self, PolicyError> {
        let (start, end) = (hhmm(&spec.start)?, end_of_window(&spec.end)?);
        if start == end {
            return Err(PolicyError::TimeWindow(format!(
                "start and end are both {}: the window would never be open (a whole day is 00:00 to 24:00)",
                spec.start
            )));
        }
        Ok(Self {
            start,
            end,
            days: spec.days.iter().map(|d| weekday(d)).collect::<Result<_, _>>()?,
            tz: offset(&spec.tz)?,
        })
    }

    /// Whether `now` falls inside the window.
    #[must_use]
    pub fn contains(&self, now: OffsetDateTime) -> bool {
        let local = now.to_offset(self.tz);
        let minute = |(h, m): (u8, u8)| u16::from(h) * 60 + u16::from(m);
        let t = u16::from(local.hour()) * 60 + u16::from(local.minute());
        let (start, end) = (minute(self.start), minute(self.end));
        let (inside, day) = if start <= end {
            (t >= start && t < end, local.weekday())
        } else if t >= start {
            (true, local.weekday())
        } else {
            // Past midnight in a window that started the day before: that day must be allowed.
            (t < end, local.weekday().previous())
        };
        inside && (self.days.is_empty() || self.days.contains(&day))
    }
}

/// A policy's conditions, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Client addresses allowed (empty: any).
    pub ip_allowlist: Vec<Cidr>,
    /// Time window (absent: any time).
    pub time_window: Option<TimeWindow>,
    /// The JSON object they were read from, as given (shown back and stored as it was).
    source: serde_json::Map<String, serde_json::Value>,
}

impl Conditions {
    /// Validates the `conditions` JSON object, refusing unknown keys by name.
    ///
    /// # Errors
    /// A [`PolicyError`] naming what is wrong.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, PolicyError> {
        let obj = match v {
            serde_json::Value::Null => return Ok(Self::default()),
            serde_json::Value::Object(o) if o.is_empty() => return Ok(Self::default()),
            serde_json::Value::Object(o) => o,
            _ => return Err(PolicyError::NotAnObject),
        };
        let unknown: Vec<&str> =
            obj.keys().map(String::as_str).filter(|k| !matches!(*k, "ip_allowlist" | "time_window")).collect();
        if !unknown.is_empty() {
            return Err(PolicyError::UnknownCondition(
                unknown.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", "),
            ));
        }
        let ip_allowlist = match obj.get("ip_allowlist") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().ok_or_else(|| PolicyError::Cidr(i.to_string())).and_then(str::parse))
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(PolicyError::Cidr(other.to_string())),
        };
        let time_window = match obj.get("time_window") {
            None | Some(serde_json::Value::Null) => None,
            Some(tw) => {
                let spec: TimeWindowSpec = serde_json::from_value(tw.clone()).map_err(|e| {
                    PolicyError::TimeWindow(e.to_string().split(" at line").next().unwrap_or("invalid").to_owned())
                })?;
                Some(TimeWindow::from_spec(&spec)?)
            }
        };
        Ok(Self { ip_allowlist, time_window, source: obj.clone() })
    }

    /// The conditions as the JSON object they were read from (`{}` for none).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.source.clone())
    }

    /// Whether the conditions hold for a request from `ip` at `now`.
    #[must_use]
    pub fn hold(&self, ip: Option<IpAddr>, now: OffsetDateTime) -> bool {
        let ip_ok =
            self.ip_allowlist.is_empty() || ip.is_some_and(|ip| self.ip_allowlist.iter().any(|c| c.contains(ip)));
        let time_ok = self.time_window.as_ref().is_none_or(|w| w.contains(now));
        ip_ok && time_ok
    }
}

/// One policy of a principal in a vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Allow or deny.
    pub effect: Effect,
    /// Paths.
    pub pattern: PathPattern,
    /// Permissions granted or refused.
    pub permissions: Vec<Permission>,
    /// When the policy applies.
    pub conditions: Conditions,
    /// The policy stops applying at this time.
    pub expires_at: Option<OffsetDateTime>,
}

/// What is being asked.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The path.
    pub path: &'a SecretPath,
    /// The permission.
    pub permission: Permission,
    /// Client address.
    pub ip: Option<IpAddr>,
    /// Now.
    pub now: OffsetDateTime,
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by a policy.
    Allow,
    /// Refused by a deny policy.
    Denied,
    /// No policy allows it (deny by default).
    NoPolicy,
}

impl Policy {
    fn applies(&self, req: &Request<'_>) -> bool {
        self.expires_at.is_none_or(|at| req.now < at)
            && self.pattern.matches(req.path)
            && req.permission.implied_by().iter().any(|p| self.permissions.contains(p))
            && self.conditions.hold(req.ip, req.now)
    }
}

/// Decides `req` under `policies`: deny wins, then allow, else no policy.
#[must_use]
pub fn decide<'r>(policies: impl IntoIterator<Item = &'r Policy>, req: &Request<'_>) -> Decision {
    let mut allowed = false;
    for policy in policies.into_iter().filter(|r| r.applies(req)) {
        match policy.effect {
            Effect::Deny => return Decision::Denied,
            Effect::Allow => allowed = true,
        }
    }
    if allowed { Decision::Allow } else { Decision::NoPolicy }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn p(s: &str) -> SecretPath {
        SecretPath::parse(s).unwrap()
    }

    fn policy(effect: Effect, pattern: &str, perms: &[Permission]) -> Policy {
        Policy {
            effect,
            pattern: PathPattern::parse(pattern).unwrap(),
            permissions: perms.to_vec(),
            conditions: Conditions::default(),
            expires_at: None,
        }
    }

    fn req(path: &SecretPath, permission: Permission) -> Request<'_> {
        Request { path, permission, ip: None, now: datetime!(2026-11-26 10:00 UTC) }
    }

    #[test]
    fn globs_match_per_segment() {
        let cases = [
            ("api-keys/*", "api-keys/openai", true),
            ("api-keys/*", "api-keys/openai/prod", false),
            ("api-keys/*", "api-keys", false),
            ("api-keys/**", "api-keys", true),
            ("api-keys/**", "api-keys/a/b/c", true),
            ("**", "anything/at/all", true),
            ("*/token", "discord/token", true),
            ("*/token", "discord/x/token", false),
            ("a/**/z", "a/z", true),
            ("a/**/z", "a/b/c/z", true),
            ("a/**/z", "a/b/c/y", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(PathPattern::parse(pattern).unwrap().matches(&p(path)), want, "{pattern} vs {path}");
        }
        for bad in ["", "a//b", "/a", "a/../b", "a b", "api-*"] {
            assert!(PathPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deny_by_default_deny_wins_and_implications() {
        let path = p("api-keys/openai");
        assert_eq!(decide(&[], &req(&path, Permission::Read)), Decision::NoPolicy);
        let read = policy(Effect::Allow, "api-keys/**", &[Permission::Read]);
        assert_eq!(decide(std::slice::from_ref(&read), &req(&path, Permission::Read)), Decision::Allow);
        assert_eq!(
            decide(std::slice::from_ref(&read), &req(&path, Permission::Use)),
            Decision::Allow,
            "read covers use"
        );
        assert_eq!(
            decide(std::slice::from_ref(&read), &req(&path, Permission::List)),
            Decision::Allow,
            "read covers list"
        );
        assert_eq!(decide(std::slice::from_ref(&read), &req(&path, Permission::Write)), Decision::NoPolicy);
        let use_only = policy(Effect::Allow, "**", &[Permission::Use]);
        assert_eq!(
            decide(std::slice::from_ref(&use_only), &req(&path, Permission::Read)),
            Decision::NoPolicy,
            "use never reveals"
        );
        let write = policy(Effect::Allow, "**", &[Permission::Write]);
        assert_eq!(decide(std::slice::from_ref(&write), &req(&path, Permission::Delete)), Decision::Allow);
        assert_eq!(decide(&[write], &req(&path, Permission::Rotate)), Decision::Allow);
        let deny = policy(Effect::Deny, "api-keys/openai", &[Permission::Read]);
        assert_eq!(decide(&[read.clone(), deny.clone()], &req(&path, Permission::Read)), Decision::Denied);
        assert_eq!(decide(&[deny, read], &req(&p("api-keys/other"), Permission::Read)), Decision::Allow);
    }

    #[test]
    fn expiry_ip_and_time_window() {
        let path = p("db/password");
        let mut r = policy(Effect::Allow, "db/*", &[Permission::Read]);
        r.expires_at = Some(datetime!(2026-11-26 09:00 UTC));
        assert_eq!(decide(std::slice::from_ref(&r), &req(&path, Permission::Read)), Decision::NoPolicy, "expired");
        r.expires_at = None;
        r.conditions =
            Conditions::from_json(&serde_json::json!({"ip_allowlist": ["10.0.0.0/8", "2001:db8::/32"]})).unwrap();
        let mut q = req(&path, Permission::Read);
        assert_eq!(decide(std::slice::from_ref(&r), &q), Decision::NoPolicy, "no address, no policy");
        q.ip = Some("10.1.2.3".parse().unwrap());
        assert_eq!(decide(std::slice::from_ref(&r), &q), Decision::Allow);
        q.ip = Some("::ffff:10.1.2.3".parse().unwrap());
        assert_eq!(decide(std::slice::from_ref(&r), &q), Decision::Allow, "mapped IPv4");
        q.ip = Some("2001:db8::1".parse().unwrap());
        assert_eq!(decide(std::slice::from_ref(&r), &q), Decision::Allow);
        q.ip = Some("192.168.1.1".parse().unwrap());
        assert_eq!(decide(std::slice::from_ref(&r), &q), Decision::NoPolicy);

        r.conditions = Conditions::from_json(&serde_json::json!({"time_window": {"start": "09:00", "end": "17:00", "days": ["mon","tue","wed","thu","fri"], "tz": "UTC"}})).unwrap();
        let mut q = req(&path, Permission::Read);
        assert_eq!(decide(std::slice::from_ref(&r), &q), Decision::Allow, "Thursday 10:00");
        q.now = datetime!(2026-11-28 10:00 UTC);
        assert_eq!(decide(std::slice::from_ref(&r), &q), Decision::NoPolicy, "Saturday");
        q.now = datetime!(2026-11-26 17:00 UTC);
        assert_eq!(decide(std::slice::from_ref(&r), &q), Decision::NoPolicy, "end is exclusive");
        r.conditions = Conditions::from_json(
            &serde_json::json!({"time_window": {"start": "22:00", "end": "02:00", "days": ["fri"], "tz": "+02:00"}}),
        )
        .unwrap();
        q.now = datetime!(2026-11-27 22:30 UTC);
        assert_eq!(
            decide(std::slice::from_ref(&r), &q),
            Decision::Allow,
            "Saturday 00:30 at +02:00, in Friday's window"
        );
        q.now = datetime!(2026-11-28 22:30 UTC);
        assert_eq!(decide(&[r], &q), Decision::NoPolicy, "Sunday 00:30, Saturday's window is not allowed");
    }

    #[test]
    fn conditions_are_validated_by_name() {
        let err =
            Conditions::from_json(&serde_json::json!({"ip_allowlist": [], "geo": "eu", "mfa": true})).unwrap_err();
        assert!(err.to_string().contains("\"geo\"") && err.to_string().contains("\"mfa\""), "{err}");
        assert!(matches!(
            Conditions::from_json(&serde_json::json!({"ip_allowlist": ["10.0.0.0/33"]})),
            Err(PolicyError::Cidr(_))
        ));
        assert!(matches!(
            Conditions::from_json(&serde_json::json!({"time_window": {"start": "25:00", "end": "01:00"}})),
            Err(PolicyError::TimeWindow(_))
        ));
        assert!(matches!(
            Conditions::from_json(
                &serde_json::json!({"time_window": {"start": "01:00", "end": "02:00", "tz": "Europe/Paris"}})
            ),
            Err(PolicyError::TimeWindow(_))
        ));
        assert!(matches!(
            Conditions::from_json(&serde_json::json!({"time_window": {"start": "01:00", "end": "02:00", "when": 1}})),
            Err(PolicyError::TimeWindow(_))
        ));
    }

    /// The backtracking definition the linear matcher must agree with (small inputs only).
    fn reference(pattern: &[Seg], path: &[&str]) -> bool {
        match pattern.split_first() {
            None => path.is_empty(),
            Some((Seg::Any, rest)) => (0..=path.len()).any(|skip| reference(rest, &path[skip..])),
            Some((seg, rest)) => path.split_first().is_some_and(|(first, tail)| {
                (match seg {
                    Seg::Literal(l) => l == first,
                    Seg::One | Seg::Any => true,
                }) && reference(rest, tail)
            }),
        }
    }

    #[test]
    fn many_double_stars_against_a_long_path_match_at_once() {
        let pattern = PathPattern::parse(&format!("{}z", "**/".repeat(20))).unwrap();
        let long = vec!["a"; 60].join("/");
        assert!(!pattern.matches(&p(&long)));
        assert!(pattern.matches(&p(&format!("{long}/z"))));
        let alternating = PathPattern::parse(&format!("{}z", "**/a/".repeat(15))).unwrap();
        assert!(!alternating.matches(&p(&long)));
    }

    #[test]
    fn patterns_have_a_length_and_segment_limit() {
        assert_eq!(PathPattern::parse(&vec!["a"; 33].join("/")), Err(PolicyError::PatternTooLong));
        assert!(PathPattern::parse(&vec!["a"; 32].join("/")).is_ok());
        assert_eq!(PathPattern::parse(&"a".repeat(257)), Err(PolicyError::PatternTooLong));
        assert!(PolicyError::PatternTooLong.to_string().contains("256 bytes and 32 segments"));
    }

    proptest! {
        #[test]
        fn linear_matching_agrees_with_backtracking(
            pattern in proptest::collection::vec(prop_oneof!["a", "b", Just("*".to_owned()), Just("**".to_owned())], 1..7),
            path in proptest::collection::vec(prop_oneof!["a", "b"], 1..8),
        ) {
            let parsed = PathPattern::parse(&pattern.join("/")).unwrap();
            let path_refs: Vec<&str> = path.iter().map(String::as_str).collect();
            prop_assert_eq!(parsed.matches(&p(&path.join("/"))), reference(&parsed.segments, &path_refs));
        }

        #[test]
        fn double_star_matches_every_path_below(prefix in "[a-z]{1,5}", rest in proptest::collection::vec("[a-z0-9]{1,4}", 0..5)) {
            let pattern = PathPattern::parse(&format!("{prefix}/**")).unwrap();
            let mut path = prefix.clone();
            for s in &rest { path.push('/'); path.push_str(s); }
            prop_assert!(pattern.matches(&p(&path)));
            let other = format!("x{path}");
            prop_assert!(!pattern.matches(&p(&other)));
        }
    }

    #[test]
    fn time_window_edges() {
        let window = |start: &str, end: &str, tz: &str| {
            Conditions::from_json(&serde_json::json!({"time_window": {"start": start, "end": end, "tz": tz}}))
        };
        let whole_day = window("00:00", "24:00", "UTC").unwrap();
        let late =
            OffsetDateTime::parse("2026-01-05T23:59:30Z", &time::format_description::well_known::Rfc3339).unwrap();
        assert!(whole_day.time_window.as_ref().unwrap().contains(late), "24:00 ends the day");
        for (start, end, tz) in [
            ("09:00", "09:00", "UTC"),
            ("9:00", "17:00", "UTC"),
            ("09:00", "17:0", "UTC"),
            ("24:00", "01:00", "UTC"),
            ("09:00", "17:00", "+2:00"),
        ] {
            assert!(window(start, end, tz).is_err(), "{start}-{end} {tz}");
        }
        assert!(window("09:00", "17:00", "+02:00").is_ok());
    }
}
