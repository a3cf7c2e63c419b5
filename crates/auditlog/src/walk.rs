//! Walking one segment's frames in bounded chunks, batch by batch, and judging what follows
//! its last whole batch: nothing, a tear a crash explains, or damage.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::Path;

use crate::LogError;
use crate::frame::{self, Decoded, HEADER, Mark, OVERHEAD};
use crate::log::{UNSYNCED_MAX, io};

/// Bytes read at a time (more when one frame is larger).
const CHUNK: usize = 1024 * 1024;

/// A place between two records: the byte offset in a segment and the next record's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) offset: u64,
    pub(crate) seq: u64,
}

/// One record of a whole batch, and the place after it.
pub(crate) struct Rec<'a> {
    pub(crate) seq: u64,
    pub(crate) payload: &'a [u8],
    pub(crate) after: Position,
}

/// Where a walk ended.
#[derive(Debug)]
pub(crate) struct Walked {
    /// After the last whole batch.
    pub(crate) good: Position,
    /// Where decoding stopped (at or after `good`: records of an unfinished batch lie between).
    pub(crate) stop: u64,
    /// Stopped at zeros right after a whole batch: the segment's clean end.
    pub(crate) clean: bool,
    /// Stopped because the visitor asked to.
    pub(crate) early: bool,
}

fn read(file: &File, path: &Path, at: u64, len: usize, size: u64) -> Result<Vec<u8>, LogError> {
    let len = len.min(usize::try_from(size.saturating_sub(at)).unwrap_or(usize::MAX));
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, at).map_err(io(path))?;
    Ok(buf)
}

/// Walks the frames of `file` from `start`, handing each whole batch to `visit` (which returns
/// false to stop).
pub(crate) fn segment(
    file: &File,
    path: &Path,
    start: Position,
    mut visit: impl FnMut(&[Rec<'_>]) -> bool,
) -> Result<Walked, LogError> {
    let size = file.metadata().map_err(io(path))?.len();
    let mut good = start;
    let mut want = CHUNK;
    'chunks: loop {
        // Each chunk starts at the current batch's first record, so a batch is seen whole.
        let base = good;
        let buf = read(file, path, base.offset, want, size)?;
        let more = base.offset + (buf.len() as u64) < size;
        let (mut i, mut seq, mut batch_start) = (0usize, base.seq, 0usize);
        let mut batch: Vec<(u64, std::ops::Range<usize>, usize)> = Vec::new();
        loop {
            match frame::decode(&buf[i..]) {
                Decoded::Record { seq: s, payload, len, mark } => {
                    if s != seq {
                        return Err(LogError::Sequence { expected: seq, found: s });
                    }
                    batch.push((s, i + HEADER..i + HEADER + payload.len(), i + len));
                    i += len;
                    seq += 1;
                    if mark.ends() {
                        let recs: Vec<Rec<'_>> = batch
                            .drain(..)
                            .map(|(seq, range, after)| Rec {
                                seq,
                                payload: &buf[range],
                                after: Position { offset: base.offset + after as u64, seq: seq + 1 },
                            })
                            .collect();
                        let keep_going = visit(&recs);
                        good = Position { offset: base.offset + i as u64, seq };
                        batch_start = i;
                        if !keep_going {
                            return Ok(Walked { good, stop: good.offset, clean: false, early: true });
                        }
                    }
                }
                stopped => {
                    let declared = frame::declared_len(&buf[i..]);
                    let short = buf.len() - i < OVERHEAD || declared.is_some_and(|t| i + t > buf.len());
                    if more && short {
                        // The chunk ended inside this batch: read again from the batch's start,
                        // with room for the frame that did not fit.
                        want = (i - batch_start + declared.unwrap_or(CHUNK)).max(CHUNK);
                        continue 'chunks;
                    }
                    let clean = matches!(stopped, Decoded::End) && batch.is_empty();
                    return Ok(Walked { good, stop: base.offset + i as u64, clean, early: false });
                }
            }
        }
    }
}

/// After a walk that ran to the end: `None` if only zeros follow the last whole batch, else the
/// end of the bytes that do (a tear). A crash can only tear what was written since the last
/// sync: at most [`UNSYNCED_MAX`] bytes (plus the rest of a frame it cut), in which only batches
/// written without a sync of their own ([`Mark::EndUnsynced`]) can be followed by another; valid
/// records further on, or a batch that was synced followed by more records, cannot come from a
/// crash: damage. With `within`, only that many bytes after the last whole batch are
/// looked at (readers, who must not read a whole segment on every call; opening looks at all).
pub(crate) fn tail(file: &File, path: &Path, walked: &Walked, within: Option<u64>) -> Result<Option<Tail>, LogError> {
    let size = file.metadata().map_err(io(path))?.len();
    let from = walked.good.offset;
    let end = within.map_or(size, |w| size.min(from.saturating_add(w)));
    // The last byte that holds something, found from the end backwards a chunk at a time (a
    // segment is mostly zeros; reading it whole would hold 64 MiB at once).
    let (mut last, mut hi) = (None, end);
    while hi > from {
        let lo = hi.saturating_sub(CHUNK as u64).max(from);
        let buf = read(file, path, lo, usize::try_from(hi - lo).unwrap_or(CHUNK), size)?;
        if let Some(i) = buf.iter().rposition(|b| *b != 0) {
            last = Some(lo + i as u64);
            break;
        }
        hi = lo;
    }
    let Some(last) = last else { return Ok(None) };
    let reach = walked.stop.saturating_add(2 * UNSYNCED_MAX as u64);
    let damage = || LogError::Damaged { path: path.display().to_string(), offset: walked.stop };
    let (mut p, mut batch_ended, mut unsynced_through) = (walked.stop + 1, false, None);
    while p <= last {
        // Positions of one chunk are looked at, with a chunk more read so that frames starting
        // there are mostly whole in the buffer; a larger one is read on its own.
        let window = read(file, path, p, 2 * CHUNK, size)?;
        let limit = CHUNK.min(usize::try_from(last - p + 1).unwrap_or(CHUNK));
        let mut i = 0;
        while i < limit {
            if !frame::is_magic(window[i]) {
                i += 1;
                continue;
            }
            let whole = match frame::declared_len(&window[i..]) {
                Some(t) if i + t > window.len() => {
                    let alone = read(file, path, p + i as u64, t, size)?;
                    record(&alone)
                }
                _ => record(&window[i..]),
            };
            let Some((len, mark, seq)) = whole else {
                i += 1;
                continue;
            };
            if p + i as u64 > reach || batch_ended {
                return Err(damage());
            }
            batch_ended = mark == Mark::End;
            if mark == Mark::EndUnsynced {
                unsynced_through = Some(seq);
            }
            i += len;
        }
        p += i as u64;
    }
    Ok(Some(Tail { end: last + 1, unsynced_through }))
}

/// What follows the last whole batch: up to `end`, and, if whole batches written without a sync
/// lie there, the number of the last one's last record.
pub(crate) struct Tail {
    pub(crate) end: u64,
    pub(crate) unsynced_through: Option<u64>,
}

/// The length of the whole record at the start of `bytes`, its place in its batch and number.
fn record(bytes: &[u8]) -> Option<(usize, Mark, u64)> {
    match frame::decode(bytes) {
        Decoded::Record { len, mark, seq, .. } => Some((len, mark, seq)),
        _ => None,
    }
}
