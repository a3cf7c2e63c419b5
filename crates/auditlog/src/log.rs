//! The log: segment files named by the sequence number of their first record
//! (`00000000000000000001.seg`), each allocated whole when made, so that an append changes no
//! file size and its `fdatasync` writes only the data. Opening reads the last segment to find
//! where the last whole record ends; a torn record there (a crash mid-write) is reported and its
//! bytes zeroed, so the next append starts where the log was last known good.

use std::fs::{File, OpenOptions};
use std::io::Read as _;
use std::os::unix::fs::{DirBuilderExt as _, FileExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use rustix::fs::FallocateFlags;

use crate::LogError;
use crate::frame::{self, Decoded, OVERHEAD};

/// Bytes allocated per segment.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
const SUFFIX: &str = ".seg";

/// A torn record found on opening, and cut away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torn {
    /// The segment it was in.
    pub segment: PathBuf,
    /// Where it started; the log continues from here.
    pub offset: u64,
    /// The sequence number it would have had.
    pub seq: u64,
}

/// A log opened, and the torn record its last segment ended with, if any.
#[derive(Debug)]
pub struct Opened {
    /// The log, ready to append.
    pub log: Log,
    /// What was cut away.
    pub torn: Option<Torn>,
}

/// An append-only log in a directory of segments.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    segment_bytes: u64,
    file: File,
    path: PathBuf,
    offset: u64,
    next_seq: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io { path: path.display().to_string(), source }
}

fn segment_name(first: u64) -> String {
    format!("{first:020}{SUFFIX}")
}

/// The first sequence numbers of the segments in `dir`, in order.
fn segments(dir: &Path) -> Result<Vec<u64>, LogError> {
    let mut firsts = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let name = entry.map_err(io(dir))?.file_name();
        if let Some(first) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)).and_then(|n| n.parse().ok()) {
            firsts.push(first);
        }
    }
    firsts.sort_unstable();
    Ok(firsts)
}

impl Log {
    /// Opens (or makes) the log in `dir`.
    ///
    /// # Errors
    /// The directory or a segment cannot be read or written; the last segment's first record
    /// is not the one its name says.
    pub fn open(dir: &Path) -> Result<Opened, LogError> {
        Self::open_with(dir, SEGMENT_BYTES)
    }

    /// [`Log::open`] with segments of `segment_bytes` (tests use small ones).
    ///
    /// # Errors
    /// As [`Log::open`].
    pub fn open_with(dir: &Path, segment_bytes: u64) -> Result<Opened, LogError> {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
        let Some(&first) = segments(dir)?.last() else {
            let (file, path) = Self::make_segment(dir, 1, segment_bytes)?;
            let log = Self { dir: dir.to_owned(), segment_bytes, file, path, offset: 0, next_seq: 1 };
            return Ok(Opened { log, torn: None });
        };
        let path = dir.join(segment_name(first));
        let mut file = OpenOptions::new().read(true).write(true).open(&path).map_err(io(&path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io(&path))?;
        let (mut offset, mut next_seq) = (0usize, first);
        let torn = loop {
            match frame::decode(&bytes[offset..]) {
                Decoded::Record { seq, len, .. } => {
                    if seq != next_seq {
                        return Err(LogError::Sequence { expected: next_seq, found: seq });
                    }
                    offset += len;
                    next_seq += 1;
                }
                Decoded::End => break None,
                Decoded::Torn => break Some(Torn { segment: path.clone(), offset: offset as u64, seq: next_seq }),
            }
        };
        if torn.is_some() {
            // Zero what follows the last good record, so that it reads as the segment's end.
            let rest = bytes.len() as u64 - offset as u64;
            if rustix::fs::fallocate(&file, FallocateFlags::ZERO_RANGE, offset as u64, rest).is_err() {
                file.write_all_at(&vec![0u8; rest as usize], offset as u64).map_err(io(&path))?;
            }
            file.sync_data().map_err(io(&path))?;
        }
        let log = Self { dir: dir.to_owned(), segment_bytes, file, path, offset: offset as u64, next_seq };
        Ok(Opened { log, torn })
    }

    fn make_segment(dir: &Path, first: u64, bytes: u64) -> Result<(File, PathBuf), LogError> {
        let path = dir.join(segment_name(first));
        let file =
            OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&path).map_err(io(&path))?;
        rustix::fs::fallocate(&file, FallocateFlags::empty(), 0, bytes).map_err(|e| io(&path)(e.into()))?;
        file.sync_all().map_err(io(&path))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
        Ok((file, path))
    }

    /// The sequence number the next record gets.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends `records` in order, made durable before returning: one write and one
    /// `fdatasync` per segment they land in. Returns the sequence number of the first.
    ///
    /// # Errors
    /// A record larger than a segment; the disk refuses.
    pub fn append(&mut self, records: &[&[u8]]) -> Result<u64, LogError> {
        let first = self.next_seq;
        let mut frames = Vec::with_capacity(records.iter().map(|r| r.len() + OVERHEAD).sum());
        for record in records {
            let len = record.len() + OVERHEAD;
            if len as u64 > self.segment_bytes {
                return Err(LogError::TooLarge(record.len()));
            }
            if self.offset + (frames.len() + len) as u64 > self.segment_bytes {
                self.flush(&frames)?;
                frames.clear();
                let (file, path) = Self::make_segment(&self.dir, self.next_seq, self.segment_bytes)?;
                (self.file, self.path, self.offset) = (file, path, 0);
            }
            frame::encode(self.next_seq, record, &mut frames);
            self.next_seq += 1;
        }
        self.flush(&frames)?;
        Ok(first)
    }

    fn flush(&mut self, frames: &[u8]) -> Result<(), LogError> {
        if frames.is_empty() {
            return Ok(());
        }
        self.file.write_all_at(frames, self.offset).map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))?;
        self.offset += frames.len() as u64;
        Ok(())
    }

    /// Every record from `seq` on, in order (the index builder and `audit verify` read the log
    /// this way).
    ///
    /// # Errors
    /// A segment cannot be read, or is damaged before the log's end.
    pub fn read_from(&self, seq: u64) -> Result<Vec<(u64, Vec<u8>)>, LogError> {
        let firsts = segments(&self.dir)?;
        let start = firsts.iter().rposition(|f| *f <= seq).unwrap_or(0);
        let mut out = Vec::new();
        for (i, first) in firsts.iter().enumerate().skip(start) {
            let path = self.dir.join(segment_name(*first));
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            let last = i + 1 == firsts.len();
            let (mut offset, mut expected) = (0usize, *first);
            loop {
                match frame::decode(&bytes[offset..]) {
                    Decoded::Record { seq: s, payload, len } => {
                        if s != expected {
                            return Err(LogError::Sequence { expected, found: s });
                        }
                        if s >= seq {
                            out.push((s, payload.to_vec()));
                        }
                        offset += len;
                        expected += 1;
                    }
                    Decoded::End => break,
                    Decoded::Torn if last => break,
                    Decoded::Torn => {
                        return Err(LogError::Damaged { path: path.display().to_string(), offset: offset as u64 });
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(log: &Log) -> Vec<(u64, String)> {
        log.read_from(1).expect("read").into_iter().map(|(s, p)| (s, String::from_utf8(p).expect("utf8"))).collect()
    }

    #[test]
    fn records_survive_reopening_and_continue_their_numbers() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 4096).expect("open").log;
        assert_eq!(log.append(&[b"one", b"two"]).expect("append"), 1);
        assert_eq!(log.append(&[b"three"]).expect("append"), 3);
        drop(log);
        let opened = Log::open_with(dir.path(), 4096).expect("reopen");
        assert!(opened.torn.is_none());
        let mut log = opened.log;
        assert_eq!(log.next_seq(), 4);
        log.append(&[b"four"]).expect("append");
        assert_eq!(payloads(&log), vec![(1, "one".into()), (2, "two".into()), (3, "three".into()), (4, "four".into())]);
        let size = std::fs::metadata(dir.path().join(segment_name(1))).expect("meta").len();
        assert_eq!(size, 4096, "allocated whole when made: appends change no size");
    }

    #[test]
    fn a_full_segment_continues_in_the_next_one() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 256).expect("open").log;
        let record = [7u8; 100];
        for _ in 0..5 {
            log.append(&[&record, &record]).expect("append");
        }
        assert!(segments(dir.path()).expect("list").len() >= 5);
        assert_eq!(
            log.read_from(4).expect("read").iter().map(|r| r.0).collect::<Vec<_>>(),
            (4..=10).collect::<Vec<_>>()
        );
        let log = Log::open_with(dir.path(), 256).expect("reopen").log;
        assert_eq!(log.next_seq(), 11);
        assert!(matches!(
            Log::open_with(dir.path(), 64).expect("open").log.append(&[&[0u8; 100]]),
            Err(LogError::TooLarge(_))
        ));
    }

    #[test]
    fn a_record_cut_short_is_reported_zeroed_and_written_over() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 4096).expect("open").log;
        log.append(&[b"kept", b"cut short"]).expect("append");
        drop(log);
        // A crash in the middle of the second record's write: its last bytes never landed.
        let path = dir.path().join(segment_name(1));
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        let second = (OVERHEAD + 4) as u64;
        file.write_all_at(&[0u8; 6], second + OVERHEAD as u64 + 3).expect("write");
        drop(file);
        let opened = Log::open_with(dir.path(), 4096).expect("reopen");
        assert_eq!(opened.torn, Some(Torn { segment: path.clone(), offset: second, seq: 2 }));
        let mut log = opened.log;
        assert_eq!(log.next_seq(), 2);
        log.append(&[b"after"]).expect("append");
        assert_eq!(payloads(&log), vec![(1, "kept".into()), (2, "after".into())]);
        assert!(Log::open_with(dir.path(), 4096).expect("again").torn.is_none());
    }

    #[test]
    fn damage_before_the_last_segment_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 256).expect("open").log;
        for _ in 0..4 {
            log.append(&[&[1u8; 100]]).expect("append");
        }
        let first = dir.path().join(segment_name(1));
        let file = OpenOptions::new().write(true).open(&first).expect("open");
        file.write_all_at(&[0xFF], 20).expect("write");
        assert!(matches!(log.read_from(1), Err(LogError::Damaged { offset: 0, .. })));
    }
}
