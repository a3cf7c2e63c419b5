//! Audit events and their hash chain.
//!
//! Each stored event carries `hash = HMAC-SHA256(k, "clawvault/audit/v1" ‖ prev_hash ‖ seq ‖
//! fields)`, where `prev_hash` is the previous event's hash (32 zero bytes for the first) and
//! `k` is derived from the master secret ([`crate::keyring::Purpose::AuditChain`]). Editing a
//! field breaks that event's hash; deleting or reordering events breaks the next event's link;
//! removing events from the end is caught by the chain head, a MAC over the last sequence
//! number and hash that is updated with every appended batch.

use std::fmt;

use hmac::{KeyInit, Mac};
use serde::Serialize;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::keyring::SubKey;
use crate::time_util::unix_micros;

/// The `prev_hash` of the first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Success,
    /// Refused: authentication or authorization.
    Denied,
    /// Failed for another reason (not found, gone, bad input, server error).
    Failure,
}

impl Outcome {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failure => "failure",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Self::Success),
            "denied" => Some(Self::Denied),
            "failure" => Some(Self::Failure),
            _ => None,
        }
    }
}

/// One audited action: who, what, on what, from where, how it ended. Never a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Event id (UUIDv7, sorts by time).
    pub id: Uuid,
    /// When, in microseconds precision.
    pub created_at: OffsetDateTime,
    /// What was done, e.g. `secret.read`.
    pub action: String,
    /// How it ended.
    pub outcome: Outcome,
    /// `user`, `agent` or `anonymous`.
    pub actor_type: String,
    /// The actor's id (empty when unauthenticated).
    pub actor_id: String,
    /// `secret`, `vault`, `api_key`, `token`, ...
    pub resource_type: String,
    /// Which one, e.g. `<vault id>/<path>` for secrets.
    pub resource_id: String,
    /// The vault concerned, if any.
    pub vault_id: Option<Uuid>,
    /// Client address.
    pub ip_address: Option<String>,
    /// Extra facts as JSON text (status, version, reason). Hashed as stored.
    pub details: String,
}

/// An event as stored: with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEvent {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// The event.
    pub event: AuditEvent,
    /// The previous event's hash.
    pub prev_hash: [u8; 32],
    /// This event's hash.
    pub hash: [u8; 32],
}

impl ChainedEvent {
    /// Marks an event read back with a field no server writes (an outcome that is none of the
    /// three, a time out of range), which the reader replaced with a stand-in: its hash becomes
    /// one no link has, so that verification names it as edited. The stand-in alone could be
    /// the value the event was chained with: an outcome "failure" rewritten to any other word
    /// and read back as `Failure` verified.
    pub fn mark_unreadable(&mut self) {
        self.hash = [0; 32];
    }
}

/// The chain's newest position, authenticated so that truncation is detected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence number of the newest event.
    pub seq: i64,
    /// Its hash.
    pub hash: [u8; 32],
    /// MAC over `seq` and `hash`.
    pub mac: [u8; 32],
}

/// The chain's HMAC key.
#[derive(Clone)]
pub struct ChainKey(SubKey);

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainKey([REDACTED])")
    }
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn put(mac: &mut HmacSha256, field: &[u8]) {
    let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
    mac.update(&len.to_be_bytes());
    mac.update(field);
}

/// Every field of `event`, each delimited, in one order.
fn put_event(m: &mut HmacSha256, event: &AuditEvent) {
    put(m, event.id.as_bytes());
    m.update(&unix_micros(event.created_at).to_be_bytes());
    put(m, event.action.as_bytes());
    put(m, event.outcome.as_str().as_bytes());
    put(m, event.actor_type.as_bytes());
    put(m, event.actor_id.as_bytes());
    put(m, event.resource_type.as_bytes());
    put(m, event.resource_id.as_bytes());
    match event.vault_id {
        Some(v) => put(m, v.as_bytes()),
        None => m.update(&u32::MAX.to_be_bytes()),
    }
    match &event.ip_address {
        Some(ip) => put(m, ip.as_bytes()),
        None => m.update(&u32::MAX.to_be_bytes()),
    }
    put(m, event.details.as_bytes());
}

impl ChainKey {
    /// Uses a derived subkey as the chain key.
    #[must_use]
    pub fn new(key: SubKey) -> Self {
        Self(key)
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(self.0.expose()).expect("hmac takes any key length")
    }

    /// The hash of `event` at position `seq` after `prev`.
    #[must_use]
    pub fn link(&self, seq: i64, prev: &[u8; 32], event: &AuditEvent) -> [u8; 32] {
        let mut m = self.mac();
        m.update(b"clawvault/audit/v1");
        m.update(prev);
        m.update(&seq.to_be_bytes());
        put_event(&mut m, event);
        m.finalize().into_bytes().into()
    }

    /// A MAC of `event` before it has a place in the chain: what a server that leaves events to
    /// be chained later stores with each, so that whoever chains them can tell they came from a
    /// holder of the key (an event written into the database by anyone else is refused).
    #[must_use]
    pub fn seal(&self, event: &AuditEvent) -> [u8; 32] {
        self.sealing(event).finalize().into_bytes().into()
    }

    /// Whether `mac` is [`ChainKey::seal`] of `event` (compared in constant time).
    #[must_use]
    pub fn opens(&self, event: &AuditEvent, mac: &[u8]) -> bool {
        self.sealing(event).verify_slice(mac).is_ok()
    }

    fn sealing(&self, event: &AuditEvent) -> HmacSha256 {
        let mut m = self.mac();
        m.update(b"clawvault/audit-unchained/v1");
        put_event(&mut m, event);
        m
    }

    /// Links `events` after the event (`after_seq`, `after_hash`), in order.
    #[must_use]
    pub fn append(&self, after_seq: i64, after_hash: [u8; 32], events: Vec<AuditEvent>) -> Vec<ChainedEvent> {
        let mut prev = after_hash;
        let mut seq = after_seq;
        events
            .into_iter()
            .map(|event| {
                seq += 1;
                let hash = self.link(seq, &prev, &event);
                let chained = ChainedEvent { seq, event, prev_hash: prev, hash };
                prev = hash;
                chained
            })
            .collect()
    }

    /// The authenticated head for the newest event.
    #[must_use]
    pub fn head(&self, seq: i64, hash: [u8; 32]) -> ChainHead {
        let mut m = self.mac();
        m.update(b"clawvault/audit-head/v1");
        m.update(&seq.to_be_bytes());
        m.update(&hash);
        ChainHead { seq, hash, mac: m.finalize().into_bytes().into() }
    }
}

/// Why the chain broke at an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakReason {
    /// The event's content does not match its hash: it was edited.
    Altered,
    /// The event does not follow the one before it: events were deleted, inserted or reordered.
    Unlinked,
    /// Events after this one were removed (the head records a later event).
    Truncated,
    /// The head itself was altered.
    HeadAltered,
    /// There are events but no head: the newest events may have been removed with it.
    HeadMissing,
    /// The event at the anchor's position is not the anchored one: the chain was rewritten.
    AnchorMismatch,
    /// The chain ends before the anchored event: events were removed.
    AnchorMissing,
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Altered => "event content does not match its hash (edited)",
            Self::Unlinked => "event does not follow the previous one (events deleted, inserted or reordered)",
            Self::Truncated => "events after this one were removed",
            Self::HeadAltered => "the chain head was altered",
            Self::HeadMissing => "the chain head is missing: the newest events may have been removed with it",
            Self::AnchorMismatch => "this event is not the one the anchor recorded: the chain was rewritten",
            Self::AnchorMissing => "the chain ends before the anchored event: events were removed",
        })
    }
}

/// The first bad place in a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    /// The event where verification failed (for [`BreakReason::HeadAltered`], the newest event).
    pub event_id: Uuid,
    /// Its sequence number.
    pub seq: i64,
    /// What is wrong.
    pub reason: BreakReason,
}

/// The result of verifying (part of) a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Number of events checked.
    pub checked: u64,
    /// The first break, if any.
    pub broken: Option<Break>,
}

impl Report {
    /// True when no break was found.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.broken.is_none()
    }
}

/// A chain head kept outside the database (`clawvault audit anchor`): the chain verified
/// later must still hold this event at this position. Written as
/// `cva1:<seq>:<hash hex>:<mac hex>`; the MAC proves the server's audit key made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Position of the anchored event.
    pub seq: i64,
    /// Its hash.
    pub hash: [u8; 32],
    /// The head MAC over both.
    pub mac: [u8; 32],
}

/// Why an anchor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    /// Not `cva1:<seq>:<hash>:<mac>`.
    #[error("an anchor looks like cva1:<seq>:<64 hex digits>:<64 hex digits>, as `clawvault audit anchor` prints it")]
    Malformed,
    /// Its MAC does not verify under this chain's key.
    #[error("this anchor was not made by this server's audit key (another server's, or edited)")]
    Foreign,
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Anchor {
    /// The anchor of a chain head.
    #[must_use]
    pub fn of(head: &ChainHead) -> Self {
        Self { seq: head.seq, hash: head.hash, mac: head.mac }
    }

    /// Parses the written form.
    ///
    /// # Errors
    /// [`AnchorError::Malformed`].
    pub fn parse(s: &str) -> Result<Self, AnchorError> {
        let mut parts = s.trim().split(':');
        let (Some("cva1"), Some(seq), Some(hash), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AnchorError::Malformed);
        };
        let seq = seq.parse::<i64>().ok().filter(|s| *s >= 1).ok_or(AnchorError::Malformed)?;
        Ok(Self {
            seq,
            hash: hex32(hash).ok_or(AnchorError::Malformed)?,
            mac: hex32(mac).ok_or(AnchorError::Malformed)?,
        })
    }

    /// Checks that `key` made this anchor.
    ///
    /// # Errors
    /// [`AnchorError::Foreign`].
    pub fn check(&self, key: &ChainKey) -> Result<(), AnchorError> {
        let want = key.head(self.seq, self.hash);
        if bool::from(want.mac.ct_eq(&self.mac)) { Ok(()) } else { Err(AnchorError::Foreign) }
    }
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cva1:{}:{}:{}", self.seq, hex(&self.hash), hex(&self.mac))
    }
}

/// Streams events in `seq` order and stops at the first break.
#[derive(Debug)]
pub struct Verifier<'k> {
    key: &'k ChainKey,
    prev: Option<(i64, [u8; 32])>,
    last: Option<(Uuid, i64, [u8; 32])>,
    checked: u64,
    broken: Option<Break>,
    anchor: Option<Anchor>,
    /// The stored head's position, when the chain may go on past it, and the hash found there.
    head_seq: Option<i64>,
    at_head: Option<[u8; 32]>,
}

impl<'k> Verifier<'k> {
    /// Verifies from the first event of the chain.
    #[must_use]
    pub fn from_genesis(key: &'k ChainKey) -> Self {
        Self::after(key, Some((0, GENESIS)))
    }

    /// Verifies from the event after (`seq`, `hash`); `None` trusts the first event's link
    /// (a window whose predecessor is not known).
    #[must_use]
    pub fn after(key: &'k ChainKey, prev: Option<(i64, [u8; 32])>) -> Self {
        Self { key, prev, last: None, checked: 0, broken: None, anchor: None, head_seq: None, at_head: None }
    }

    /// Lets the chain go on past the stored head (events appended after the head was read, or
    /// a store whose MAC'd head lags its log): it must then hold the head's event at the head's
    /// position. Without this, [`Verifier::finish`] wants the head to be the last event.
    #[must_use]
    pub fn expecting_head(mut self, head: Option<&ChainHead>) -> Self {
        self.head_seq = head.map(|h| h.seq);
        self
    }

    /// Also requires the chain to hold the anchored event (checked with [`Anchor::check`]
    /// first).
    #[must_use]
    pub fn with_anchor(mut self, anchor: Anchor) -> Self {
        self.anchor = Some(anchor);
        self
    }

    /// Checks the next event. Returns false once the chain is broken.
    pub fn push(&mut self, e: &ChainedEvent) -> bool {
        if self.broken.is_some() {
            return false;
        }
        self.checked += 1;
        if let Some((prev_seq, prev_hash)) = self.prev {
            let linked = e.seq == prev_seq + 1 && bool::from(e.prev_hash.ct_eq(&prev_hash));
            if !linked {
                self.fail(e, BreakReason::Unlinked);
                return false;
            }
        }
        let expected = self.key.link(e.seq, &e.prev_hash, &e.event);
        if !bool::from(expected.ct_eq(&e.hash)) {
            self.fail(e, BreakReason::Altered);
            return false;
        }
        if let Some(a) = &self.anchor
            && a.seq == e.seq
            && !bool::from(a.hash.ct_eq(&e.hash))
        {
            self.fail(e, BreakReason::AnchorMismatch);
            return false;
        }
        if self.head_seq == Some(e.seq) {
            self.at_head = Some(e.hash);
        }
        self.prev = Some((e.seq, e.hash));
        self.last = Some((e.event.id, e.seq, e.hash));
        true
    }

    fn fail(&mut self, e: &ChainedEvent, reason: BreakReason) {
        self.broken = Some(Break { event_id: e.event.id, seq: e.seq, reason });
    }

    /// Ends verification of the whole chain, up to its end, against the stored head, so that
    /// removal of the newest events is detected (also with the head: events without a head
    /// are a break), and against the anchor, if any.
    #[must_use]
    pub fn finish(mut self, head: Option<&ChainHead>) -> Report {
        let (id, seq, hash) = self.last.unwrap_or((Uuid::nil(), 0, GENESIS));
        if self.broken.is_none() {
            match head {
                Some(head) => {
                    let want = self.key.head(head.seq, head.hash);
                    let held = match self.at_head {
                        // The chain went on past the head, as allowed: it holds the head's event.
                        Some(at) if seq > head.seq => bool::from(head.hash.ct_eq(&at)),
                        _ => head.seq == seq && bool::from(head.hash.ct_eq(&hash)),
                    };
                    if !bool::from(want.mac.ct_eq(&head.mac)) {
                        self.broken = Some(Break { event_id: id, seq, reason: BreakReason::HeadAltered });
                    } else if !held {
                        self.broken = Some(Break { event_id: id, seq, reason: BreakReason::Truncated });
                    }
                }
                None if self.last.is_some() => {
                    self.broken = Some(Break { event_id: id, seq, reason: BreakReason::HeadMissing });
                }
                None => {}
            }
        }
        if self.broken.is_none()
            && let Some(a) = &self.anchor
            && seq < a.seq
        {
            self.broken = Some(Break { event_id: id, seq, reason: BreakReason::AnchorMissing });
        }
        Report { checked: self.checked, broken: self.broken }
    }

    /// Ends verification of the first part of a chain (a limited check): the head and the
    /// anchor are not looked at.
    #[must_use]
    pub fn finish_partial(self) -> Report {
        Report { checked: self.checked, broken: self.broken }
    }
}

/// Verifies a complete chain held in memory (tests, small exports).
#[must_use]
pub fn verify_all(key: &ChainKey, events: &[ChainedEvent], head: Option<&ChainHead>) -> Report {
    let mut v = Verifier::from_genesis(key);
    for e in events {
        if !v.push(e) {
            break;
        }
    }
    v.finish(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> ChainKey {
        ChainKey::new(SubKey::from_bytes([3; 32]))
    }

    fn event(i: u128) -> AuditEvent {
        AuditEvent {
            id: Uuid::from_u128(i),
            created_at: OffsetDateTime::from_unix_timestamp(1_700_000_000 + i64::try_from(i).unwrap()).unwrap(),
            action: "secret.read".into(),
            outcome: Outcome::Success,
            actor_type: "user".into(),
            actor_id: "u1".into(),
            resource_type: "secret".into(),
            resource_id: format!("v/p{i}"),
            vault_id: Some(Uuid::from_u128(77)),
            ip_address: Some("127.0.0.1".into()),
            details: "{}".into(),
        }
    }

    fn chain(n: u128) -> (Vec<ChainedEvent>, ChainHead) {
        let k = key();
        let events = k.append(0, GENESIS, (1..=n).map(event).collect());
        let last = events.last().unwrap();
        let head = k.head(last.seq, last.hash);
        (events, head)
    }

    #[test]
    fn intact_chain_verifies_and_batches_link() {
        let k = key();
        let first = k.append(0, GENESIS, vec![event(1), event(2)]);
        let second = k.append(2, first[1].hash, vec![event(3)]);
        let all: Vec<_> = first.into_iter().chain(second).collect();
        let head = k.head(3, all[2].hash);
        let r = verify_all(&k, &all, Some(&head));
        assert!(r.is_valid());
        assert_eq!(r.checked, 3);
    }

    #[test]
    fn a_seal_opens_only_for_its_event_and_key() {
        let (k, e) = (key(), event(1));
        let mac = k.seal(&e);
        assert!(k.opens(&e, &mac));
        assert!(!ChainKey::new(SubKey::from_bytes([4; 32])).opens(&e, &mac), "another key");
        assert!(!k.opens(&e, &mac[..31]), "a cut MAC");
        let mut edited = e.clone();
        edited.details = "{\"x\":1}".into();
        assert!(!k.opens(&edited, &mac), "an edited event");
        // Not a link: a sealed event's MAC is no hash a chain could hold.
        assert!((0..3).all(|seq| k.link(seq, &GENESIS, &e) != mac));
    }

    #[test]
    fn an_event_marked_unreadable_is_named_as_edited() {
        let (mut events, head) = chain(3);
        events[1].mark_unreadable();
        let broken = verify_all(&key(), &events, Some(&head)).broken.unwrap();
        assert_eq!((broken.seq, broken.reason), (2, BreakReason::Altered));
    }

    #[test]
    fn truncation_and_head_tampering() {
        let (mut events, head) = chain(5);
        events.pop();
        let r = verify_all(&key(), &events, Some(&head));
        assert_eq!(r.broken.unwrap().reason, BreakReason::Truncated);
        let (events, mut head) = chain(5);
        head.seq = 4;
        assert_eq!(verify_all(&key(), &events, Some(&head)).broken.unwrap().reason, BreakReason::HeadAltered);
    }

    #[test]
    fn a_chain_may_go_on_past_a_head_it_holds_when_that_is_expected() {
        let k = key();
        let (events, _) = chain(6);
        let head = k.head(4, events[3].hash);
        let run = |expecting: bool, events: &[ChainedEvent]| {
            let mut v = Verifier::from_genesis(&k);
            if expecting {
                v = v.expecting_head(Some(&head));
            }
            for e in events {
                v.push(e);
            }
            v.finish(Some(&head))
        };
        assert!(run(true, &events).is_valid(), "events appended after the head was read");
        assert_eq!(run(false, &events).broken.unwrap().reason, BreakReason::Truncated, "unless expected");
        assert_eq!(run(true, &events[..3]).broken.unwrap().reason, BreakReason::Truncated, "ends before the head");
        // Another chain of the same length whose event at the head's position differs.
        let other = k.append(0, GENESIS, (11..=16).map(event).collect());
        assert_eq!(run(true, &other).broken.unwrap().reason, BreakReason::Truncated);
    }

    #[test]
    fn events_without_a_head_are_a_break() {
        let (mut events, _) = chain(5);
        events.truncate(3);
        let r = verify_all(&key(), &events, None);
        assert_eq!(r.broken.unwrap().reason, BreakReason::HeadMissing);
        assert!(verify_all(&key(), &[], None).is_valid(), "an empty chain needs no head");
    }

    #[test]
    fn an_anchor_must_be_extended() {
        let k = key();
        let (events, head) = chain(6);
        let anchor = Anchor { seq: 4, hash: events[3].hash, mac: k.head(4, events[3].hash).mac };
        let text = anchor.to_string();
        assert!(text.starts_with("cva1:4:"), "{text}");
        assert_eq!(Anchor::parse(&text), Ok(anchor.clone()));
        assert_eq!(anchor.check(&k), Ok(()));
        let forged = Anchor { mac: [0; 32], ..anchor.clone() };
        assert_eq!(forged.check(&k), Err(AnchorError::Foreign));
        for bad in ["", "cva1:0:00:00", "cva1:x:y:z", &text.replace("cva1", "cva2"), &format!("{text}:extra")] {
            assert_eq!(Anchor::parse(bad), Err(AnchorError::Malformed), "{bad:?}");
        }

        let run = |events: &[ChainedEvent], head: Option<&ChainHead>| {
            let mut v = Verifier::from_genesis(&k).with_anchor(anchor.clone());
            for e in events {
                if !v.push(e) {
                    break;
                }
            }
            v.finish(head)
        };
        assert!(run(&events, Some(&head)).is_valid(), "a longer chain extends it");
        // Truncated to before the anchor, with a head re-made for the shorter chain (as one
        // could after stealing the key): the anchor still tells.
        let short = &events[..3];
        let short_head = k.head(3, short[2].hash);
        assert_eq!(run(short, Some(&short_head)).broken.unwrap().reason, BreakReason::AnchorMissing);
        // A rewritten chain of the same length: the anchored position holds another event.
        let (other, other_head) = {
            let mut evs = Vec::new();
            for i in 0..6 {
                evs.push(event(100 + i));
            }
            let linked = k.append(0, GENESIS, evs);
            let h = k.head(6, linked[5].hash);
            (linked, h)
        };
        assert_eq!(run(&other, Some(&other_head)).broken.unwrap().reason, BreakReason::AnchorMismatch);
    }

    proptest! {
        #[test]
        fn any_single_edit_delete_or_swap_is_named(n in 2u128..20, pick in any::<usize>(), other in any::<usize>(), op in 0u8..4) {
            let (mut events, head) = chain(n);
            let len = events.len();
            let i = pick % len;
            let expected_id;
            match op {
                0 => { events[i].event.action.push('x'); expected_id = events[i].event.id; }
                1 => { events[i].event.details = "{\"x\":1}".into(); expected_id = events[i].event.id; }
                2 => {
                    // Delete: the next event becomes unlinked; deleting the last is truncation.
                    events.remove(i);
                    expected_id = if i < events.len() { events[i].event.id } else { events[i - 1].event.id };
                }
                _ => {
                    let j = other % len;
                    prop_assume!(i != j);
                    let (a, b) = (i.min(j), i.max(j));
                    events.swap(a, b);
                    expected_id = events[a].event.id;
                }
            }
            let r = verify_all(&key(), &events, Some(&head));
            let broken = r.broken.expect("tampering must be detected");
            prop_assert_eq!(broken.event_id, expected_id);
        }
    }
}
