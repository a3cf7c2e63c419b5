//! Connect's ids: 26 characters of `[a-z0-9]`, the form every Connect client tests for to tell
//! an id from a title (`^[a-z0-9]{26}$` in the Go and JavaScript SDKs and in ESO). clawvault's
//! UUIDs are written in base 36, left-padded with `0`: 128 bits need at most 25 digits, so the
//! mapping is exact both ways and needs no table.

use uuid::Uuid;

/// Length of every Connect id.
pub const LEN: usize = 26;
const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// `id` as Connect writes ids.
#[must_use]
pub fn encode(id: Uuid) -> String {
    let mut n = id.as_u128();
    let mut out = [b'0'; LEN];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// The UUID a Connect id stands for; `None` for anything that is not one of ours (a title, a
/// malformed id, a base-36 number beyond 128 bits).
#[must_use]
pub fn decode(raw: &str) -> Option<Uuid> {
    if !is_id(raw) {
        return None;
    }
    let mut n: u128 = 0;
    for b in raw.bytes() {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            _ => b - b'a' + 10,
        };
        n = n.checked_mul(36)?.checked_add(u128::from(digit))?;
    }
    Some(Uuid::from_u128(n))
}

/// Whether `raw` has the form of a Connect id (what clients take for an id, not a title).
#[must_use]
pub fn is_id(raw: &str) -> bool {
    raw.len() == LEN && raw.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_have_the_form_clients_test_for() {
        for id in [Uuid::nil(), Uuid::max(), Uuid::new_v4(), Uuid::now_v7()] {
            let encoded = encode(id);
            assert!(is_id(&encoded), "{encoded}");
            assert_eq!(decode(&encoded), Some(id));
        }
        assert_eq!(encode(Uuid::nil()), "0".repeat(26));
    }

    #[test]
    fn titles_and_overflows_are_not_ids() {
        for raw in
            ["prod", "Prod0000000000000000000000", "zzzzzzzzzzzzzzzzzzzzzzzzzz", "0000000000000000000000000-", ""]
        {
            assert_eq!(decode(raw), None, "{raw}");
        }
    }
}
