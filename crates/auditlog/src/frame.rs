//! One record on disk: a magic byte, the payload's length (u32, little-endian), the record's
//! sequence number (u64), the payload, and the first 8 bytes of SHA-256 over the magic byte,
//! sequence number and payload. The magic byte also says whether the record ends a batch
//! ([`MAGIC_END`]): a batch counts only once its last record is on disk, so a crash in the
//! middle of one leaves nothing of it. A frame starts with a non-zero byte and segments are
//! zero-filled, so a zero at a frame boundary is the clean end of a segment; anything else that
//! does not check is a torn or damaged record.

use sha2::{Digest as _, Sha256};

/// First byte of a record that a later record of the same batch follows.
pub const MAGIC: u8 = 0xA7;
/// First byte of the last record of a batch.
pub const MAGIC_END: u8 = 0xA8;
/// Bytes around the payload: magic, length, sequence number, check.
pub const OVERHEAD: usize = 1 + 4 + 8 + 8;
/// Bytes before the payload: magic, length, sequence number.
pub(crate) const HEADER: usize = 1 + 4 + 8;

fn check(magic: u8, seq: u64, payload: &[u8]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update([magic]);
    h.update(seq.to_le_bytes());
    h.update(payload);
    let digest = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// Appends the frame of `payload` as record `seq` to `out`; `end` marks the batch's last record.
///
/// # Panics
/// Never for payloads under 4 GiB, which [`crate::Log`] guarantees.
pub fn encode(seq: u64, payload: &[u8], end: bool, out: &mut Vec<u8>) {
    let magic = if end { MAGIC_END } else { MAGIC };
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.push(magic);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&check(magic, seq, payload));
}

/// What the bytes at a frame boundary hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole record.
    Record {
        /// Sequence number.
        seq: u64,
        /// Payload.
        payload: &'a [u8],
        /// Bytes the frame takes.
        len: usize,
        /// Whether it is the last record of its batch.
        end: bool,
    },
    /// Zeros: nothing was ever written here.
    End,
    /// Bytes that are not a whole, checked record (a write cut short, or damage).
    Torn,
}

/// The length of the frame starting `bytes`, as its header says (`None` without a header).
#[must_use]
pub fn declared_len(bytes: &[u8]) -> Option<usize> {
    if !matches!(bytes.first(), Some(&(MAGIC | MAGIC_END))) || bytes.len() < HEADER {
        return None;
    }
    let len = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    len.checked_add(OVERHEAD)
}

/// Reads the frame at the start of `bytes`.
#[must_use]
pub fn decode(bytes: &[u8]) -> Decoded<'_> {
    let magic = match bytes.first() {
        None | Some(0) => return Decoded::End,
        Some(&m @ (MAGIC | MAGIC_END)) => m,
        Some(_) => return Decoded::Torn,
    };
    let Some(total) = declared_len(bytes).filter(|t| *t <= bytes.len()) else {
        return Decoded::Torn;
    };
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[5..HEADER]);
    let seq = u64::from_le_bytes(seq);
    let payload = &bytes[HEADER..total - 8];
    if bytes[total - 8..total] != check(magic, seq, payload) {
        return Decoded::Torn;
    }
    Decoded::Record { seq, payload, len: total, end: magic == MAGIC_END }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_and_any_damage_is_torn() {
        for end in [false, true] {
            let mut buf = Vec::new();
            encode(7, b"event", end, &mut buf);
            let whole = Decoded::Record { seq: 7, payload: b"event", len: buf.len(), end };
            assert_eq!(decode(&buf), whole);
            assert_eq!(declared_len(&buf), Some(buf.len()));
            for cut in 1..buf.len() {
                assert_eq!(decode(&buf[..cut]), Decoded::Torn, "cut at {cut}");
            }
            for at in 0..buf.len() {
                let mut bad = buf.clone();
                bad[at] ^= 0x10;
                assert_eq!(decode(&bad), Decoded::Torn, "flip at {at}");
            }
        }
        assert_eq!(decode(&[0u8; 64]), Decoded::End);
        assert_eq!(decode(&[]), Decoded::End);
    }

    #[test]
    fn turning_a_batch_end_into_a_middle_record_is_detected() {
        let mut buf = Vec::new();
        encode(3, b"last", true, &mut buf);
        buf[0] = MAGIC;
        assert_eq!(decode(&buf), Decoded::Torn);
    }
}
