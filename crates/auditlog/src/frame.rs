//! One record on disk: `MAGIC`, the payload's length (u32, little-endian), the record's
//! sequence number (u64), the payload, and the first 8 bytes of SHA-256 over the sequence number
//! and payload. A frame starts with a non-zero byte and segments are zero-filled, so a zero at a
//! frame boundary is the clean end of a segment; anything else that does not check is a torn or
//! damaged record.

use sha2::{Digest as _, Sha256};

/// First byte of every frame.
pub const MAGIC: u8 = 0xA7;
/// Bytes around the payload: magic, length, sequence number, check.
pub const OVERHEAD: usize = 1 + 4 + 8 + 8;

fn check(seq: u64, payload: &[u8]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(seq.to_le_bytes());
    h.update(payload);
    let digest = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// Appends the frame of `payload` as record `seq` to `out`.
///
/// # Panics
/// Never for payloads under 4 GiB, which [`crate::Log`] guarantees.
pub fn encode(seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.push(MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&check(seq, payload));
}

/// What the bytes at a frame boundary hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole record: its sequence number, payload, and the frame's length.
    Record {
        /// Sequence number.
        seq: u64,
        /// Payload.
        payload: &'a [u8],
        /// Bytes the frame takes.
        len: usize,
    },
    /// Zeros: nothing was ever written here.
    End,
    /// Bytes that are not a whole, checked record (a write cut short, or damage).
    Torn,
}

/// Reads the frame at the start of `bytes`.
#[must_use]
pub fn decode(bytes: &[u8]) -> Decoded<'_> {
    match bytes.first() {
        None | Some(0) => return Decoded::End,
        Some(&MAGIC) => {}
        Some(_) => return Decoded::Torn,
    }
    if bytes.len() < OVERHEAD {
        return Decoded::Torn;
    }
    let len = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    let Some(total) = len.checked_add(OVERHEAD).filter(|t| *t <= bytes.len()) else {
        return Decoded::Torn;
    };
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[5..13]);
    let seq = u64::from_le_bytes(seq);
    let payload = &bytes[13..13 + len];
    if bytes[13 + len..total] != check(seq, payload) {
        return Decoded::Torn;
    }
    Decoded::Record { seq, payload, len: total }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_and_any_damage_is_torn() {
        let mut buf = Vec::new();
        encode(7, b"event", &mut buf);
        assert_eq!(decode(&buf), Decoded::Record { seq: 7, payload: b"event", len: buf.len() });
        for cut in 1..buf.len() {
            assert_eq!(decode(&buf[..cut]), Decoded::Torn, "cut at {cut}");
        }
        for at in 0..buf.len() {
            let mut bad = buf.clone();
            bad[at] ^= 0x10;
            assert_ne!(decode(&bad), Decoded::Record { seq: 7, payload: b"event", len: buf.len() }, "flip at {at}");
        }
        assert_eq!(decode(&[0u8; 64]), Decoded::End);
        assert_eq!(decode(&[]), Decoded::End);
    }
}
