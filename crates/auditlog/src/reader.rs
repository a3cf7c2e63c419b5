//! Reading a log back, from any thread, while it is being appended to: only whole batches are
//! seen (a batch being written is invisible until its last record lands), and reading on from
//! where the previous call ended costs no rescan of the segment.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::LogError;
use crate::log::{segment_path, segments};
use crate::walk::{self, Position};

/// How far past the last whole batch a reader looks for damage (opening looks at the whole
/// segment): enough for any tear a crash leaves, without reading 64 MiB on every call.
const LOOK_PAST: u64 = 4 * crate::UNSYNCED_MAX as u64;

/// Where the previous read ended: the segment (by its first number) and the place in it.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    segment: u64,
    at: Position,
}

/// A reader of the log in a directory.
#[derive(Debug)]
pub struct Reader {
    dir: PathBuf,
    cursor: Mutex<Option<Cursor>>,
}

impl Reader {
    /// A reader of the log in `dir` (which may not exist yet: then there are no records).
    #[must_use]
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_owned(), cursor: Mutex::new(None) }
    }

    /// Whether the log has any segment.
    ///
    /// # Errors
    /// The directory cannot be read.
    pub fn exists(&self) -> Result<bool, LogError> {
        Ok(!segments(&self.dir)?.is_empty())
    }

    /// Up to `limit` records numbered after `after`, in order, as `(seq, payload)`.
    ///
    /// # Errors
    /// A segment cannot be read; records out of order; damage (a segment before the last that
    /// does not read to its clean end, or valid records past a tear in the last one further
    /// than a crash explains).
    pub fn read_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        // A batch appended between walking the last segment and looking past its end looks
        // like records after a whole batch: read again, and call it damage only if it stays.
        let mut tries = 0;
        loop {
            match self.read_once(after, limit) {
                Err(LogError::Damaged { .. }) if tries < 3 => tries += 1,
                other => return other,
            }
        }
    }

    fn read_once(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        let firsts = segments(&self.dir)?;
        let want = after.saturating_add(1);
        let mut out = Vec::new();
        if firsts.is_empty() || limit == 0 {
            return Ok(out);
        }
        let hint = *self.cursor.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (mut idx, mut at) = match hint {
            Some(c) if c.at.seq == want && firsts.contains(&c.segment) => {
                (firsts.iter().position(|f| *f == c.segment).unwrap_or(0), c.at)
            }
            _ => {
                let idx = firsts.iter().rposition(|f| *f <= want).unwrap_or(0);
                (idx, Position { offset: 0, seq: firsts[idx] })
            }
        };
        loop {
            let path = segment_path(&self.dir, firsts[idx]);
            let file = File::open(&path).map_err(crate::log::io(&path))?;
            let mut end = at;
            let walked = walk::segment(&file, &path, at, |batch| {
                for r in batch {
                    if r.seq >= want {
                        out.push((r.seq, r.payload.to_vec()));
                        end = r.after;
                        if out.len() == limit {
                            return false;
                        }
                    }
                }
                end = batch.last().map_or(end, |r| r.after);
                true
            })?;
            let last = idx + 1 == firsts.len();
            if walked.early || last {
                if !walked.early {
                    walk::tail(&file, &path, &walked, Some(LOOK_PAST))?;
                    end = walked.good;
                }
                *self.cursor.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(Cursor { segment: firsts[idx], at: end });
                return Ok(out);
            }
            if !walked.clean {
                return Err(LogError::Damaged { path: path.display().to_string(), offset: walked.stop });
            }
            if firsts[idx + 1] != walked.good.seq {
                return Err(LogError::Sequence { expected: walked.good.seq, found: firsts[idx + 1] });
            }
            idx += 1;
            at = Position { offset: 0, seq: firsts[idx] };
        }
    }
}
