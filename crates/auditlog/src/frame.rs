//! One record on disk: a magic byte, the payload's length (u32, little-endian), the record's
//! sequence number (u64), the payload, and the first 8 bytes of SHA-256 over the magic byte,
//! sequence number and payload. The magic byte also says whether the record ends a batch
//! ([`MAGIC_END`]): a batch counts only once its last record is on disk, so a crash in the
//! middle of one leaves nothing of it. A batch written without a sync of its own (its records
//! durable elsewhere, see [`crate::Log::write`]) ends with [`MAGIC_END_UNSYNCED`]: after a
//! crash, the batches that followed it may be on disk while it is torn. A frame starts with a non-zero byte and segments are
//! zero-filled, so a zero at a frame boundary is the clean end of a segment; anything else that
//! does not check is a torn or damaged record.

use sha2::{Digest as _, Sha256};

/// First byte of a record that a later record of the same batch follows.
pub const MAGIC: u8 = 0xA7;
/// First byte of the last record of a batch.
pub const MAGIC_END: u8 = 0xA8;
/// First byte of the last record of a batch written without waiting for the disk.
pub const MAGIC_END_UNSYNCED: u8 = 0xA9;
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

/// Where a record stands in its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A later record of the same batch follows.
    Inside,
    /// The batch's last record.
    End,
    /// The last record of a batch written without a sync of its own.
    EndUnsynced,
}

impl Mark {
    /// Whether the record ends its batch.
    #[must_use]
    pub fn ends(self) -> bool {
        self != Mark::Inside
    }

    fn magic(self) -> u8 {
        match self {
            Mark::Inside => MAGIC,
            Mark::End => MAGIC_END,
            Mark::EndUnsynced => MAGIC_END_UNSYNCED,
        }
    }
}

/// Whether `byte` starts a frame.
#[must_use]
pub fn is_magic(byte: u8) -> bool {
    matches!(byte, MAGIC | MAGIC_END | MAGIC_END_UNSYNCED)
}

/// Appends the frame of `payload` as record `seq` to `out`, marked with its place in its batch.
///
/// # Panics
/// Never for payloads under 4 GiB, which [`crate::Log`] guarantees.
pub fn encode(seq: u64, payload: &[u8], mark: Mark, out: &mut Vec<u8>) {
    let magic = mark.magic();
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
        /// Its place in its batch.
        mark: Mark,
    },
    /// Zeros: nothing was ever written here.
    End,
    /// Bytes that are not a whole, checked record (a write cut short, or damage).
    Torn,
}

/// The length of the frame starting `bytes`, as its header says (`None` without a header).
#[must_use]
pub fn declared_len(bytes: &[u8]) -> Option<usize> {
    if !bytes.first().is_some_and(|b| is_magic(*b)) || bytes.len() < HEADER {
        return None;
    }
    let len = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    len.checked_add(OVERHEAD)
}

/// Reads the frame at the start of `bytes`.
#[must_use]
pub fn decode(bytes: &[u8]) -> Decoded<'_> {
    let mark = match bytes.first() {
        None | Some(0) => return Decoded::End,
        Some(&MAGIC) => Mark::Inside,
        Some(&MAGIC_END) => Mark::End,
        Some(&MAGIC_END_UNSYNCED) => Mark::EndUnsynced,
        Some(_) => return Decoded::Torn,
    };
    let Some(total) = declared_len(bytes).filter(|t| *t <= bytes.len()) else {
        return Decoded::Torn;
    };
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[5..HEADER]);
    let seq = u64::from_le_bytes(seq);
    let payload = &bytes[HEADER..total - 8];
    if bytes[total - 8..total] != check(mark.magic(), seq, payload) {
        return Decoded::Torn;
    }
    Decoded::Record { seq, payload, len: total, mark }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_and_any_damage_is_torn() {
        for mark in [Mark::Inside, Mark::End, Mark::EndUnsynced] {
            let mut buf = Vec::new();
            encode(7, b"event", mark, &mut buf);
            let whole = Decoded::Record { seq: 7, payload: b"event", len: buf.len(), mark };
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
    fn changing_a_record_s_place_in_its_batch_is_detected() {
        for (mark, other) in [(Mark::End, MAGIC), (Mark::End, MAGIC_END_UNSYNCED), (Mark::EndUnsynced, MAGIC_END)] {
            let mut buf = Vec::new();
            encode(3, b"last", mark, &mut buf);
            buf[0] = other;
            assert_eq!(decode(&buf), Decoded::Torn);
        }
    }
}
