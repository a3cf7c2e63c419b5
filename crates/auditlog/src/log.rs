//! The log: segment files named by the sequence number of their first record
//! (`00000000000000000001.seg`), each allocated whole when made, so that an append changes no
//! file size and its `fdatasync` writes only the data. A batch never spans two segments, and
//! counts only once its last record (flagged, see [`crate::frame`]) is on disk. Opening walks
//! the last segment to the end of its last whole batch; anything after it (a crash mid-write)
//! is reported, and zeroed by the next append in the same sync as that append's records (so the
//! caller can make its first append the record of what was cut: until then nothing is lost). Valid
//! records further on than a crash can explain are damage, and the log refuses to open.
//!
//! Allocating a segment (writing its zeros and syncing them) takes about 100 ms for 64 MiB, so
//! it is not done by the append that needs it: once the current segment is half full, a thread
//! prepares the next under a name readers skip ([`SPARE`]), and the append that fills the
//! segment only renames it and syncs the directory.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt as _, FileExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use rustix::fs::FallocateFlags;

use crate::LogError;
use crate::frame::{self, Mark, OVERHEAD};
use crate::walk::{self, Position};

/// Bytes allocated per segment.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Most bytes written between two syncs: a crash can leave at most this much of a batch
/// half-written, which bounds where a torn tail's stray records may lie.
pub const UNSYNCED_MAX: usize = 1024 * 1024;
const SUFFIX: &str = ".seg";
/// Where the next segment is prepared. Not a segment name: readers skip it, and opening removes
/// one a crash left behind (it never held records: it gets them only once renamed).
const SPARE: &str = "next.spare";

/// What opening found after the last whole batch (zeroed by the next append).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torn {
    /// The segment it was in.
    pub segment: PathBuf,
    /// Where the last whole batch ended; the log continues from here.
    pub offset: u64,
    /// The sequence number the next record gets.
    pub seq: u64,
    /// How many bytes after `offset` held something.
    pub bytes: u64,
    /// The last record of the whole batches written without a sync ([`Log::write`]) found past
    /// the tear, if any: a crash explains them only if their records are durable elsewhere,
    /// which the caller must check (and write them back).
    pub unsynced_through: Option<u64>,
}

/// A log opened, and what its last segment ended with after the last whole batch, if anything.
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
    /// Set when a write or sync failed: what reached the disk is unknown, so nothing more is
    /// appended until the log is opened again.
    failed: bool,
    /// Bytes after the last whole batch found on opening, zeroed by the next append.
    junk: Option<(u64, u64)>,
    /// Bytes written by [`Log::write`] since the last sync, in the current segment.
    unsynced: usize,
    /// The sequence number after the last record known to be on disk.
    synced_seq: u64,
    /// The next segment being prepared, once the current one is half full.
    spare: Option<std::thread::JoinHandle<Result<File, LogError>>>,
    /// Held (with an exclusive `flock`) while the log is open: one appender at a time.
    _lock: File,
}

impl Drop for Log {
    fn drop(&mut self) {
        // No thread of this log writes in its directory once another appender may hold it.
        if let Some(spare) = self.spare.take() {
            let _ = spare.join();
        }
    }
}

/// How long opening waits for another appender (in this process, one being dropped) to let go.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn lock(dir: &Path) -> Result<File, LogError> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io(&path))?;
    let until = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(file),
            Err(rustix::io::Errno::WOULDBLOCK) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(rustix::io::Errno::WOULDBLOCK) => return Err(LogError::Locked(dir.display().to_string())),
            Err(e) => return Err(io(&path)(e.into())),
        }
    }
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io { path: path.display().to_string(), source }
}

pub(crate) fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}{SUFFIX}"))
}

/// The first sequence numbers of the segments in `dir`, in order (none if `dir` is missing).
pub(crate) fn segments(dir: &Path) -> Result<Vec<u64>, LogError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut firsts = Vec::new();
    for entry in entries {
        let name = entry.map_err(io(dir))?.file_name();
        let digits = name
            .to_str()
            .and_then(|n| n.strip_suffix(SUFFIX))
            .filter(|n| n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit()));
        if let Some(first) = digits.and_then(|n| n.parse().ok()) {
            firsts.push(first);
        }
    }
    firsts.sort_unstable();
    Ok(firsts)
}

fn remove_if_present(path: &Path) -> Result<(), LogError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

/// A new file of `bytes` zeros at `path`, on disk (`replace`: removing whatever a failed
/// preparation left there first; never opened through a link someone planted there).
fn allocate(path: &Path, bytes: u64, replace: bool) -> Result<File, LogError> {
    if replace {
        remove_if_present(path)?;
    }
    let file = OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(path).map_err(io(path))?;
    rustix::fs::fallocate(&file, FallocateFlags::empty(), 0, bytes).map_err(|e| io(path)(e.into()))?;
    // Zeros written for real: an allocated but unwritten extent costs a journal commit on the
    // first sync of each block written into it; written ones cost only the data.
    let zeros = vec![0u8; 1024 * 1024];
    let mut at = 0;
    while at < bytes {
        let n = zeros.len().min(usize::try_from(bytes - at).unwrap_or(usize::MAX));
        file.write_all_at(&zeros[..n], at).map_err(io(path))?;
        at += n as u64;
    }
    file.sync_all().map_err(io(path))?;
    Ok(file)
}

impl Log {
    /// Opens (or makes) the log in `dir`; a new log's first record is `first_seq`.
    ///
    /// # Errors
    /// The directory or a segment cannot be read or written; the last segment holds records out
    /// of order, or valid records beyond a torn one further than a crash can explain.
    pub fn open(dir: &Path, first_seq: u64) -> Result<Opened, LogError> {
        Self::open_with(dir, first_seq, SEGMENT_BYTES)
    }

    /// [`Log::open`] with segments of `segment_bytes` (tests use small ones).
    ///
    /// # Errors
    /// As [`Log::open`].
    pub fn open_with(dir: &Path, first_seq: u64, segment_bytes: u64) -> Result<Opened, LogError> {
        if !dir.exists() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
            // The directory's entry must survive a crash with the first segment in it.
            if let Some(parent) = dir.parent() {
                File::open(parent).and_then(|d| d.sync_all()).map_err(io(parent))?;
            }
        }
        let lock = lock(dir)?;
        remove_if_present(&dir.join(SPARE))?;
        let Some(&first) = segments(dir)?.last() else {
            let (file, path) = Self::make_segment(dir, first_seq, segment_bytes)?;
            let log = Self {
                dir: dir.to_owned(),
                segment_bytes,
                file,
                path,
                offset: 0,
                next_seq: first_seq,
                failed: false,
                junk: None,
                unsynced: 0,
                synced_seq: first_seq,
                spare: None,
                _lock: lock,
            };
            return Ok(Opened { log, torn: None });
        };
        let path = segment_path(dir, first);
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(io(&path))?;
        // What the last process wrote without a sync may still be in the page cache only (it
        // was killed, not the machine): synced now, before anyone counts it as on disk.
        file.sync_data().map_err(io(&path))?;
        let walked = walk::segment(&file, &path, Position { offset: 0, seq: first }, |_| true)?;
        let tail = walk::tail(&file, &path, &walked, None)?;
        let good = walked.good;
        let torn = tail.map(|t| Torn {
            segment: path.clone(),
            offset: good.offset,
            seq: good.seq,
            bytes: t.end - good.offset,
            unsynced_through: t.unsynced_through,
        });
        let log = Self {
            dir: dir.to_owned(),
            segment_bytes,
            file,
            path,
            offset: good.offset,
            next_seq: good.seq,
            failed: false,
            junk: torn.as_ref().map(|t| (t.offset, t.bytes)),
            unsynced: 0,
            synced_seq: good.seq,
            spare: None,
            _lock: lock,
        };
        Ok(Opened { log, torn })
    }

    fn make_segment(dir: &Path, first: u64, bytes: u64) -> Result<(File, PathBuf), LogError> {
        let path = segment_path(dir, first);
        let file = allocate(&path, bytes, false)?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
        Ok((file, path))
    }

    /// The segment that starts at the next record: the spare if it was prepared, else one
    /// allocated now.
    fn next_segment(&mut self) -> Result<(File, PathBuf), LogError> {
        let path = segment_path(&self.dir, self.next_seq);
        let spare = self.dir.join(SPARE);
        if let Some(Ok(Ok(file))) = self.spare.take().map(std::thread::JoinHandle::join) {
            // Never over an existing segment, whatever a bug elsewhere numbered. A file system
            // that refuses the flag (NFS) gets a segment allocated here instead, which
            // `create_new` keeps from replacing one too.
            let renamed = rustix::fs::renameat_with(
                rustix::fs::CWD,
                &spare,
                rustix::fs::CWD,
                &path,
                rustix::fs::RenameFlags::NOREPLACE,
            );
            if renamed.is_ok() {
                // Its records count as durable only once its name is.
                File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io(&self.dir))?;
                return Ok((file, path));
            }
        }
        // A failed preparation's file is not left to take the room of the one made now.
        let _ = std::fs::remove_file(&spare);
        Self::make_segment(&self.dir, self.next_seq, self.segment_bytes)
    }

    /// Starts preparing the next segment once the current one is half full.
    fn prepare_spare(&mut self) {
        if self.spare.is_some() || self.offset <= self.segment_bytes / 2 {
            return;
        }
        let (path, bytes) = (self.dir.join(SPARE), self.segment_bytes);
        self.spare = std::thread::Builder::new()
            .name("clawvault-log-spare".into())
            .spawn(move || allocate(&path, bytes, true))
            .ok();
    }

    /// The sequence number the next record gets.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The directory the log lives in.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a write or sync failed: nothing more is appended until the log is opened again.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The sequence number after the last record known to be on disk (records from there to
    /// [`Log::next_seq`] were written by [`Log::write`] and wait for a sync).
    #[must_use]
    pub fn synced_seq(&self) -> u64 {
        self.synced_seq
    }

    /// Appends `records` as one batch, made durable before returning: written into one segment
    /// (a new one if the current one has no room for all of it) with one `fdatasync` per
    /// [`UNSYNCED_MAX`] bytes, which also makes durable what [`Log::write`] left unsynced.
    /// Returns the sequence number of the first.
    ///
    /// # Errors
    /// A batch larger than a segment; the disk refuses (then every later append fails too,
    /// until the log is opened again).
    pub fn append(&mut self, records: &[&[u8]]) -> Result<u64, LogError> {
        let first = self.put_batch(records, Mark::End)?;
        self.sync()?;
        Ok(first)
    }

    /// Appends `records` as one batch without waiting for the disk: for a caller that has made
    /// them durable elsewhere (and can write them again after a crash). At most
    /// [`UNSYNCED_MAX`] bytes are left unsynced: a batch that would leave more syncs first, so
    /// a crash still tears no more than that. Returns the sequence number of the first.
    ///
    /// # Errors
    /// As [`Log::append`].
    pub fn write(&mut self, records: &[&[u8]]) -> Result<u64, LogError> {
        self.put_batch(records, Mark::EndUnsynced)
    }

    fn put_batch(&mut self, records: &[&[u8]], end: Mark) -> Result<u64, LogError> {
        if self.failed {
            return Err(LogError::Failed);
        }
        let first = self.next_seq;
        if records.is_empty() {
            return Ok(first);
        }
        let size: usize = records.iter().map(|r| r.len() + OVERHEAD).sum();
        if size as u64 > self.segment_bytes {
            return Err(LogError::TooLarge(size));
        }
        let mut frames = Vec::with_capacity(size);
        for (i, record) in records.iter().enumerate() {
            let mark = if i + 1 == records.len() { end } else { Mark::Inside };
            frame::encode(first + i as u64, record, mark, &mut frames);
        }
        let result = self.put(&frames);
        if result.is_err() {
            self.failed = true;
        }
        result?;
        self.next_seq = first + records.len() as u64;
        Ok(first)
    }

    /// Makes everything written durable.
    ///
    /// # Errors
    /// The disk refuses (then every later append fails too, until the log is opened again).
    pub fn sync(&mut self) -> Result<(), LogError> {
        if self.failed {
            return Err(LogError::Failed);
        }
        let result = self.sync_data();
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn sync_data(&mut self) -> Result<(), LogError> {
        if self.unsynced > 0 {
            self.file.sync_data().map_err(io(&self.path))?;
            self.unsynced = 0;
        }
        self.synced_seq = self.next_seq;
        Ok(())
    }

    /// Writes `frames` (one whole batch) after the last one, leaving the last chunk unsynced.
    fn put(&mut self, frames: &[u8]) -> Result<(), LogError> {
        let zeroed = self.junk.take();
        if let Some((at, len)) = zeroed {
            let zeros = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
            self.unsynced += zeros.len();
            self.file.write_all_at(&zeros, at).map_err(io(&self.path))?;
        }
        // Opening looks for a tear in the last segment only, and within UNSYNCED_MAX bytes of
        // its last whole batch: whatever a crash may tear must stay within both.
        let rotate = self.offset + frames.len() as u64 > self.segment_bytes;
        if rotate || self.unsynced + frames.len() > UNSYNCED_MAX {
            self.sync_data()?;
        }
        if rotate {
            let (file, path) = self.next_segment()?;
            (self.file, self.path, self.offset) = (file, path, 0);
        }
        let mut at = self.offset;
        let mut chunks = frames.chunks(UNSYNCED_MAX).peekable();
        while let Some(chunk) = chunks.next() {
            self.file.write_all_at(chunk, at).map_err(io(&self.path))?;
            at += chunk.len() as u64;
            self.unsynced += chunk.len();
            // The zeros over a torn tail go to disk with the first batch after it, whatever
            // kind: a crash must not leave new frames before the old tail's leftovers.
            if chunks.peek().is_some() || zeroed.is_some() {
                self.sync_data()?;
            }
        }
        self.offset = at;
        self.prepare_spare();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reader;

    fn payloads(dir: &Path) -> Vec<(u64, String)> {
        Reader::new(dir)
            .read_after(0, usize::MAX)
            .expect("read")
            .into_iter()
            .map(|(s, p)| (s, String::from_utf8(p).expect("utf8")))
            .collect()
    }

    #[test]
    fn records_survive_reopening_and_continue_their_numbers() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 1, 4096).expect("open").log;
        assert_eq!(log.append(&[b"one", b"two"]).expect("append"), 1);
        assert_eq!(log.append(&[b"three"]).expect("append"), 3);
        drop(log);
        let opened = Log::open_with(dir.path(), 1, 4096).expect("reopen");
        assert!(opened.torn.is_none());
        let mut log = opened.log;
        assert_eq!(log.next_seq(), 4);
        log.append(&[b"four"]).expect("append");
        assert_eq!(
            payloads(dir.path()),
            vec![(1, "one".into()), (2, "two".into()), (3, "three".into()), (4, "four".into())]
        );
        let size = std::fs::metadata(segment_path(dir.path(), 1)).expect("meta").len();
        assert_eq!(size, 4096, "allocated whole when made: appends change no size");
    }

    #[test]
    fn one_appender_at_a_time() {
        let dir = tempfile::tempdir().expect("dir");
        let log = Log::open_with(dir.path(), 1, 4096).expect("open").log;
        let other = std::thread::spawn({
            let dir = dir.path().to_owned();
            move || Log::open_with(&dir, 1, 4096).map(|o| o.log.next_seq())
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        drop(log);
        assert_eq!(other.join().expect("thread").expect("opened once the first let go"), 1);
    }

    #[test]
    fn a_new_log_starts_where_it_is_told() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 42, 4096).expect("open").log;
        assert_eq!(log.append(&[b"x"]).expect("append"), 42);
        drop(log);
        assert_eq!(Log::open_with(dir.path(), 1, 4096).expect("reopen").log.next_seq(), 43);
    }

    #[test]
    fn a_write_waits_for_the_next_sync_and_never_leaves_more_than_the_bound_unsynced() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 1, 8 * 1024 * 1024).expect("open").log;
        log.append(&[b"read"]).expect("append");
        assert_eq!(log.synced_seq(), 2);
        log.write(&[b"write", b"its event"]).expect("write");
        assert_eq!((log.next_seq(), log.synced_seq()), (4, 2), "written, not yet synced");
        assert_eq!(payloads(dir.path()).len(), 3, "readers see it at once");
        log.append(&[b"next read"]).expect("append");
        assert_eq!(log.synced_seq(), 5, "the next append's sync covers the write before it");
        // Writes of half the bound each: the third would leave more than the bound unsynced,
        // so it syncs the two before it first.
        let half = vec![b'x'; UNSYNCED_MAX / 2 - 64];
        log.write(&[&half]).expect("write");
        log.write(&[&half]).expect("write");
        assert_eq!(log.synced_seq(), 5);
        log.write(&[&half]).expect("write");
        assert_eq!((log.next_seq(), log.synced_seq()), (8, 7));
        log.sync().expect("sync");
        assert_eq!(log.synced_seq(), 8);
        drop(log);
        assert_eq!(Log::open_with(dir.path(), 1, 8 * 1024 * 1024).expect("reopen").log.next_seq(), 8);
    }

    #[test]
    fn a_full_segment_continues_in_the_next_one_and_a_batch_never_spans_two() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 1, 256).expect("open").log;
        let record = [7u8; 100];
        for _ in 0..5 {
            log.append(&[&record, &record]).expect("append");
        }
        assert_eq!(segments(dir.path()).expect("list"), vec![1, 3, 5, 7, 9]);
        let reader = Reader::new(dir.path());
        assert_eq!(
            reader.read_after(3, 100).expect("read").iter().map(|r| r.0).collect::<Vec<_>>(),
            (4..=10).collect::<Vec<_>>()
        );
        drop(log);
        let log = Log::open_with(dir.path(), 1, 256).expect("reopen").log;
        assert_eq!(log.next_seq(), 11);
        let mut small = Log::open_with(tempfile::tempdir().expect("dir").path(), 1, 64).expect("open").log;
        assert!(matches!(small.append(&[&[0u8; 100]]), Err(LogError::TooLarge(_))));
    }

    fn inode(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path).expect("meta").ino()
    }

    #[test]
    fn the_next_segment_is_prepared_ahead_and_taken_by_the_append_that_needs_it() {
        let dir = tempfile::tempdir().expect("dir");
        let bytes = 64 * 1024;
        let mut log = Log::open_with(dir.path(), 1, bytes).expect("open").log;
        let record = [7u8; 1000];
        let spare = dir.path().join(SPARE);
        while log.offset <= bytes / 2 {
            log.append(&[&record]).expect("append");
            assert!(!spare.exists() || log.offset > bytes / 2, "not before the segment is half full");
        }
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&spare).map(|m| m.len()).unwrap_or(0) < bytes {
            assert!(std::time::Instant::now() < until, "the spare was never prepared");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let prepared = inode(&spare);
        let first_of_next = loop {
            let next = log.next_seq();
            log.append(&[&record]).expect("append");
            if log.offset < 2000 {
                break next;
            }
        };
        assert_eq!(inode(&segment_path(dir.path(), first_of_next)), prepared, "the spare became the segment");
        assert!(!spare.exists() || inode(&spare) != prepared);
        assert_eq!(std::fs::metadata(segment_path(dir.path(), first_of_next)).expect("meta").len(), bytes);
        drop(log);
        let reopened = Log::open_with(dir.path(), 1, bytes).expect("reopen");
        assert_eq!(reopened.log.next_seq(), first_of_next + 1);
        assert_eq!(payloads(dir.path()).len() as u64, first_of_next);
    }

    #[test]
    fn a_prepared_segment_never_replaces_one_of_the_same_name() {
        let dir = tempfile::tempdir().expect("dir");
        let bytes = 4096;
        let mut log = Log::open_with(dir.path(), 1, bytes).expect("open").log;
        let record = [7u8; 1000];
        while log.offset <= bytes / 2 {
            log.append(&[&record]).expect("append");
        }
        // Whatever numbered it, a segment already named for the next record stays as it is.
        let taken = segment_path(dir.path(), log.next_seq() + 1);
        std::fs::write(&taken, b"kept").expect("plant");
        log.append(&[&record]).expect("append");
        assert!(log.append(&[&record]).is_err(), "the log refuses to go on over it");
        assert_eq!(std::fs::read(&taken).expect("read"), b"kept");
    }

    #[test]
    fn a_spare_left_by_a_crash_is_removed_on_opening_and_never_read() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 1, 4096).expect("open").log;
        log.append(&[b"one"]).expect("append");
        drop(log);
        // A copy of a whole segment, as if a crash came between its preparation and its rename.
        std::fs::copy(segment_path(dir.path(), 1), dir.path().join(SPARE)).expect("copy");
        assert_eq!(payloads(dir.path()), vec![(1, "one".into())], "readers skip it");
        let mut log = Log::open_with(dir.path(), 1, 4096).expect("reopen").log;
        assert!(!dir.path().join(SPARE).exists());
        log.append(&[b"two"]).expect("append");
        assert_eq!(payloads(dir.path()), vec![(1, "one".into()), (2, "two".into())]);
    }

    #[test]
    fn a_batch_cut_short_is_reported_zeroed_and_written_over() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 1, 4096).expect("open").log;
        log.append(&[b"kept"]).expect("append");
        log.append(&[b"first of two", b"second of two"]).expect("append");
        drop(log);
        // A crash in the middle of the second batch's write: its last bytes never landed, and
        // the record that did land must go with it (the batch was never acknowledged).
        let path = segment_path(dir.path(), 1);
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        let second = (OVERHEAD + 4) as u64;
        let end = second + (OVERHEAD + 12) as u64 + (OVERHEAD + 13) as u64;
        file.write_all_at(&[0u8; 5], end - 5).expect("write");
        drop(file);
        let opened = Log::open_with(dir.path(), 1, 4096).expect("reopen");
        assert_eq!(
            opened.torn,
            Some(Torn {
                segment: path.clone(),
                offset: second,
                seq: 2,
                bytes: end - 5 - second,
                unsynced_through: None
            })
        );
        let mut log = opened.log;
        assert_eq!(log.next_seq(), 2);
        log.append(&[b"after"]).expect("append");
        assert_eq!(payloads(dir.path()), vec![(1, "kept".into()), (2, "after".into())]);
        drop(log);
        assert!(Log::open_with(dir.path(), 1, 4096).expect("again").torn.is_none());
    }

    #[test]
    fn paged_reads_see_every_record_once_across_chunks_and_segments() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 1, 2 * 1024 * 1024).expect("open").log;
        let mut expected = Vec::new();
        for batch in 0..300u64 {
            let records: Vec<Vec<u8>> =
                (0..batch % 13 + 1).map(|i| vec![(batch + i) as u8; 700 + (batch as usize * 31) % 900]).collect();
            let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
            let first = log.append(&refs).expect("append");
            expected.extend(records.into_iter().enumerate().map(|(i, r)| (first + i as u64, r)));
        }
        // A record larger than one read.
        let big = vec![9u8; 3 * 1024 * 1024 / 2];
        let first = log.append(&[&big, b"after the big one"]).expect("append");
        expected.push((first, big));
        expected.push((first + 1, b"after the big one".to_vec()));
        assert!(segments(dir.path()).expect("list").len() >= 2);
        let reader = Reader::new(dir.path());
        let (mut seen, mut after) = (Vec::new(), 0);
        loop {
            let page = reader.read_after(after, 7).expect("page");
            let Some(last) = page.last() else { break };
            after = last.0;
            seen.extend(page);
        }
        assert_eq!(seen, expected);
        assert_eq!(Reader::new(dir.path()).read_after(1000, 3).expect("jump")[0].0, 1001);
    }

    #[test]
    fn a_frame_header_cut_by_a_read_is_read_whole() {
        const CHUNK: usize = 1024 * 1024;
        for short in [1, 5, 12, 13, 20, 21, 22] {
            let dir = tempfile::tempdir().expect("dir");
            let mut log = Log::open_with(dir.path(), 1, 4 * 1024 * 1024).expect("open").log;
            // The first frame ends `short` bytes before the first read's end.
            log.append(&[&vec![1u8; CHUNK - short - OVERHEAD]]).expect("append");
            log.append(&[b"second", b"third"]).expect("append");
            drop(log);
            let opened = Log::open_with(dir.path(), 1, 4 * 1024 * 1024).expect("reopen");
            assert!(opened.torn.is_none(), "short {short}");
            assert_eq!(opened.log.next_seq(), 4, "short {short}");
            let read = Reader::new(dir.path()).read_after(1, 10).expect("read");
            assert_eq!(read, vec![(2, b"second".to_vec()), (3, b"third".to_vec())], "short {short}");
        }
    }

    #[test]
    fn an_unfinished_batch_is_not_read() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 1, 4096).expect("open").log;
        log.append(&[b"whole"]).expect("append");
        drop(log);
        // The first record of a batch whose last record has not landed yet.
        let mut frames = Vec::new();
        frame::encode(2, b"in flight", Mark::Inside, &mut frames);
        let file = OpenOptions::new().write(true).open(segment_path(dir.path(), 1)).expect("open");
        file.write_all_at(&frames, (OVERHEAD + 5) as u64).expect("write");
        assert_eq!(payloads(dir.path()), vec![(1, "whole".into())]);
    }

    #[test]
    fn an_edited_record_with_later_records_is_damage_not_a_tear() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 1, 8 * 1024 * 1024).expect("open").log;
        let big = vec![3u8; 64 * 1024];
        for _ in 0..40 {
            log.append(&[&big]).expect("append");
        }
        drop(log);
        let path = segment_path(dir.path(), 1);
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        file.write_all_at(&[0xFF], 100).expect("write");
        drop(file);
        assert!(matches!(Log::open_with(dir.path(), 1, 8 * 1024 * 1024), Err(LogError::Damaged { offset: 0, .. })));
        assert!(matches!(Reader::new(dir.path()).read_after(0, 10), Err(LogError::Damaged { offset: 0, .. })));
    }

    #[test]
    fn an_edited_record_followed_by_whole_batches_is_damage_however_close() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 1, 4096).expect("open").log;
        for i in 0..4u8 {
            log.append(&[&[i + 1; 20]]).expect("append");
        }
        drop(log);
        let file = OpenOptions::new().write(true).open(segment_path(dir.path(), 1)).expect("open");
        let second = (OVERHEAD + 20) as u64;
        file.write_all_at(&[0xEE], second + 16).expect("write");
        drop(file);
        assert!(
            matches!(Log::open_with(dir.path(), 1, 4096), Err(LogError::Damaged { offset, .. }) if offset == second)
        );
        assert!(matches!(Reader::new(dir.path()).read_after(0, 10), Err(LogError::Damaged { .. })));
    }

    /// A log of four one-record batches of 20 bytes, the third written without a sync when
    /// `third_unsynced` (the second always), whose second record then lost its end (the
    /// writeback reached the disk for the later batches but not for the second).
    fn second_torn(third_unsynced: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 1, 4096).expect("open").log;
        log.append(&[&[1; 20]]).expect("append");
        log.write(&[&[2; 20]]).expect("write");
        if third_unsynced {
            log.write(&[&[3; 20]]).expect("write");
        } else {
            log.append(&[&[3; 20]]).expect("append");
        }
        log.append(&[&[4; 20]]).expect("append");
        drop(log);
        let file = OpenOptions::new().write(true).open(segment_path(dir.path(), 1)).expect("open");
        file.write_all_at(&[0; 20], (OVERHEAD + 20 + 13) as u64).expect("write");
        dir
    }

    #[test]
    fn batches_written_without_a_sync_may_outlive_a_torn_one_before_them() {
        // A tear a crash explains, since neither unsynced batch waited for the disk.
        let dir = second_torn(true);
        let second = (OVERHEAD + 20) as u64;
        let opened = Log::open_with(dir.path(), 1, 4096).expect("a tear, not damage");
        let torn = opened.torn.expect("torn");
        assert_eq!((torn.offset, torn.seq, torn.bytes), (second, 2, 3 * second));
        assert_eq!(torn.unsynced_through, Some(3), "the caller must hold record 3 elsewhere");
        assert_eq!(opened.log.next_seq(), 2);
        // The same picture after a synced batch is damage: its sync made the one before durable.
        let dir = second_torn(false);
        assert!(matches!(Log::open_with(dir.path(), 1, 4096), Err(LogError::Damaged { .. })));
    }

    #[test]
    fn damage_before_the_last_segment_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let mut log = Log::open_with(dir.path(), 1, 256).expect("open").log;
        for _ in 0..4 {
            log.append(&[&[1u8; 100]]).expect("append");
        }
        let file = OpenOptions::new().write(true).open(segment_path(dir.path(), 1)).expect("open");
        file.write_all_at(&[0xFF], 20).expect("write");
        assert!(matches!(Reader::new(dir.path()).read_after(0, 10), Err(LogError::Damaged { offset: 0, .. })));
    }
}
