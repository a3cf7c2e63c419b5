//! The audit trail of a SQLite store. Its durable record is the append-only log beside the
//! database file (`clawvault-auditlog`): a batch of events is one write and one `fdatasync`,
//! with no B-tree page on the way, so a read's audit event costs what the disk's sync floor
//! allows. `audit_events` (with `audit_lookup` and `audit_head`) is the log's index, filled
//! behind it in large transactions by the writer thread, from the events it keeps in memory
//! until then (and, after a restart, from the log's tail).
//!
//! Writes and the log are two files. A batch that holds writes keeps its events' log records in
//! its own transaction (`audit_pending`) and the last one's number in `audit_applied`, commits
//! (one sync makes both durable), and only then writes them to the log, without waiting for the
//! disk: the next batch of reads syncs them, or the writer when idle or once 128 of them wait.
//! Opening writes back into the log what a crash kept from it. (Older logs may hold a batch of
//! writes logged before its commit, above the mark: opening reports it, as it reports a torn
//! tail that the log cuts away.)
//!
//! The chain head's MAC is not kept in the log (each one there would be a valid point to cut
//! the chain back to): the writer computes it in memory, and the index keeps the MAC'd head of
//! what it indexed. So a log that ends before its index, or before the last batch of writes the
//! database committed, is refused as cut; a log missing once the database recorded making it is
//! refused as missing. What the index has not reached yet when a server stops is covered by the
//! log alone, and by the anchors an operator keeps.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use clawvault_auditlog::{Log, LogError, Reader};
use clawvault_core::audit::{AuditEvent, ChainHead, ChainKey, ChainedEvent, GENESIS};
use clawvault_store::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::log_record::{self, BatchEnd};
use crate::{audit_query, backend, pending};

/// The log's directory for the database at `db`: `<db>-audit`, beside SQLite's `-wal`.
pub(crate) fn log_dir(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push("-audit");
    db.with_file_name(name)
}

pub(crate) fn log_error(e: LogError) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// What opening the trail found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes after the log's last whole batch, cut away: a batch being written when the server
    /// stopped (never acknowledged), or damage at the very end.
    pub torn: Option<TornTail>,
    /// Events `(first, last)` of a batch of writes that was logged but never committed.
    pub uncommitted: Option<(i64, i64)>,
    /// Events copied from the database into a new log (a data directory from before the log).
    pub migrated: u64,
    /// Events `(first, last)` of batches of writes that committed but whose log records a crash
    /// kept from the disk, written back into the log from the database.
    pub restored: Option<(i64, i64)>,
}

/// A torn tail cut away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub segment: PathBuf,
    /// Where its last whole batch ended.
    pub offset: u64,
    /// How many bytes followed it.
    pub bytes: u64,
    /// The number the next event gets.
    pub next_seq: i64,
}

impl Recovery {
    /// Whether anything was found.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.torn.is_none() && self.uncommitted.is_none() && self.restored.is_none()
    }
}

/// The newest durable head as readers see it (they answer `audit_head` with it): its position
/// and hash, MAC'd only when asked (a MAC per batch was an HMAC on every read's path).
#[derive(Debug, Default)]
pub(crate) struct Newest {
    pub(crate) head: Option<(i64, [u8; 32])>,
    pub(crate) key: Option<ChainKey>,
}

impl Newest {
    /// The head with its MAC (`None` before the first event, or before the key is known).
    pub(crate) fn mac(&self) -> Option<ChainHead> {
        let ((seq, hash), key) = (self.head?, self.key.as_ref()?);
        Some(key.head(seq, hash))
    }
}

/// [`Newest`], shared between the writer and the store's readers.
pub(crate) type Published = Arc<Mutex<Newest>>;

/// An event appended to the log and not yet indexed, and whether it ended its batch.
pub(crate) struct Unindexed {
    pub(crate) event: ChainedEvent,
    pub(crate) end: bool,
}

/// The writer thread's side: the log, the chain's head, and the events written to the log but
/// not yet synced.
pub(crate) struct Trail {
    log: Log,
    head: (i64, [u8; 32]),
    published: Published,
    written: Vec<Unindexed>,
    /// A commit failed: whether its events are durable is unknown, so their numbers cannot be
    /// handed out again; nothing more is appended until the store is opened again.
    failed: bool,
}

fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

fn max_indexed(conn: &Connection) -> Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_events", [], |r| r.get(0)).map_err(backend)
}

/// The last event of the last committed batch of writes, and whether the log was made.
fn applied(conn: &Connection) -> Result<(i64, bool)> {
    conn.query_row("SELECT seq, log_made FROM audit_applied WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map(Option::unwrap_or_default)
        .map_err(backend)
}

/// Copies the events of a database from before the log into the log, from where the log ends
/// (so that a copy cut short by a crash goes on where it stopped).
fn migrate(conn: &Connection, log: &mut Log) -> Result<u64> {
    const PAGE: i64 = 1000;
    let mut after = i64::try_from(log.next_seq()).unwrap_or(i64::MAX) - 1;
    let mut copied = 0u64;
    loop {
        let page: Vec<ChainedEvent> = crate::sql::all(
            conn,
            "SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?",
            params![after, PAGE],
            crate::convert::chained_event,
        )?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let n = page.len();
        let records: Vec<Vec<u8>> = page
            .iter()
            .enumerate()
            .map(|(i, c)| log_record::encode(c, (i + 1 == n).then_some(BatchEnd { commits: false })))
            .collect();
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        log.append(&refs).map_err(log_error)?;
        copied += n as u64;
    }
    Ok(copied)
}

/// The batches of writes that committed after the log's end (their records are in
/// `audit_pending`) and continue the log's chain, in order: they stop at a gap, or at records
/// that do not link on (a log edited, not cut by a crash), which the checks after this refuse.
fn to_restore(conn: &Connection, dir: &Path, log: &Log) -> Result<Vec<pending::Kept>> {
    let end = i64::try_from(log.next_seq()).unwrap_or(i64::MAX) - 1;
    let kept = pending::after(conn, end)?;
    if kept.is_empty() {
        return Ok(kept);
    }
    let mut head = match Reader::new(dir).read_after(seq_u64(end - 1), 1).map_err(log_error)?.first() {
        Some((seq, bytes)) => log_record::decode(*seq, bytes)?.0.hash,
        None if end == 0 => GENESIS,
        None => return Ok(Vec::new()),
    };
    let mut next = log.next_seq();
    let mut linked = Vec::new();
    for batch in kept {
        let mut links = seq_u64(batch.first) == next && seq_u64(batch.last) + 1 == next + batch.records.len() as u64;
        for (seq, record) in (next..).zip(&batch.records) {
            let Ok((event, _)) = log_record::decode(seq, record) else {
                links = false;
                break;
            };
            links &= event.prev_hash == head;
            head = event.hash;
        }
        if !links {
            break;
        }
        next += batch.records.len() as u64;
        linked.push(batch);
    }
    Ok(linked)
}

/// Writes `batches` (from [`to_restore`]) back into the log and drops their rows; returns the
/// events written back.
fn restore(conn: &Connection, log: &mut Log, batches: Vec<pending::Kept>) -> Result<Option<(i64, i64)>> {
    let span = batches.first().zip(batches.last()).map(|(f, l)| (f.first, l.last));
    for batch in &batches {
        let refs: Vec<&[u8]> = batch.records.iter().map(Vec::as_slice).collect();
        log.append(&refs).map_err(log_error)?;
    }
    if let Some((_, last)) = span {
        conn.execute("DELETE FROM audit_pending WHERE last_seq <= ?", [last]).map_err(backend)?;
    }
    Ok(span)
}

fn cut(dir: &Path, end: i64, what: &str, seq: i64) -> StoreError {
    StoreError::Corrupt(format!(
        "the audit log in {} ends at event {end} but {what} {seq}: the log was cut. \
         Run `clawvault audit verify` and restore the data directory from a backup",
        dir.display()
    ))
}

impl Trail {
    /// Opens the log of the database on `conn` (making it, and copying in the events of a
    /// database from before the log), cuts a torn tail, loads what the index lacks, and says
    /// what it found.
    ///
    /// # Errors
    /// The log cannot be opened, is damaged, or ends before events its index holds (the log
    /// was cut: the database's owner must look before anything more is appended).
    pub(crate) fn open(conn: &Connection, dir: &Path) -> Result<(Self, Recovery, Vec<Unindexed>)> {
        let mut recovery = Recovery::default();
        let (applied, made) = applied(conn)?;
        if made && !Reader::new(dir).exists().map_err(log_error)? {
            return Err(StoreError::Corrupt(format!(
                "the audit log {} is missing, though this database made it: restore the data directory \
                 from a backup (`clawvault audit verify --data-dir` tells what the database's index still holds)",
                dir.display()
            )));
        }
        let opened = Log::open(dir, 1).map_err(log_error)?;
        let mut log = opened.log;
        if !made {
            recovery.migrated = migrate(conn, &mut log)?;
            conn.execute("UPDATE audit_applied SET log_made = 1 WHERE id = 1", []).map_err(backend)?;
        }
        let batches = to_restore(conn, dir, &log)?;
        let restorable = batches.iter().map(|b| b.records.len() as u64).sum::<u64>();
        // Checked before anything is written: a refused start leaves the log as it found it.
        let end = i64::try_from(log.next_seq() + restorable).unwrap_or(i64::MAX) - 1;
        if let Some(t) = &opened.torn
            && let Some(through) = t.unsynced_through
            && seq_u64(end) < through
        {
            // Whole batches past the tear that the database does not hold: not a crash.
            return Err(log_error(LogError::Damaged { path: t.segment.display().to_string(), offset: t.offset }));
        }
        let indexed = max_indexed(conn)?;
        if end < indexed {
            return Err(cut(dir, end, "its index holds events up to", indexed));
        }
        if end < applied {
            return Err(cut(dir, end, "the database committed writes whose events reach", applied));
        }
        if let Some(t) = opened.torn {
            recovery.torn = Some(TornTail {
                segment: t.segment,
                offset: t.offset,
                bytes: t.bytes,
                next_seq: i64::try_from(t.seq).unwrap_or(i64::MAX),
            });
        }
        recovery.restored = restore(conn, &mut log, batches)?;
        // The lookup index covers no more than the events indexed (an index emptied to be
        // rebuilt from the log), and a database from before the log may have events it lacks.
        conn.execute("DELETE FROM audit_lookup WHERE seq > ?", [indexed]).map_err(backend)?;
        // Runs that started at or past it are empty now: no query seeks them again.
        conn.execute("DELETE FROM audit_runs WHERE run >= ?", [indexed]).map_err(backend)?;
        conn.execute("UPDATE audit_indexed SET seq = MIN(seq, ?) WHERE id = 1", [indexed]).map_err(backend)?;
        let unshared = std::sync::Mutex::new(());
        while audit_query::merge_run(conn, audit_query::RUN, &unshared)? {}
        // The head is the log's last event (the index's copy of it is not trusted for that).
        let mut head = (0, GENESIS);
        let mut unindexed = Vec::new();
        let mut batch_first = indexed + 1;
        let mut last_batch = None;
        let reader = Reader::new(dir);
        for (seq, bytes) in reader.read_after(seq_u64(indexed - 1), usize::MAX).map_err(log_error)? {
            let (event, end) = log_record::decode(seq, &bytes)?;
            head = (event.seq, event.hash);
            if event.seq <= indexed {
                continue;
            }
            if let Some(b) = end {
                last_batch = Some((batch_first, event.seq, b.commits));
                batch_first = event.seq + 1;
            }
            unindexed.push(Unindexed { event, end: end.is_some() });
        }
        if let Some((first, last, true)) = last_batch
            && applied < last
        {
            recovery.uncommitted = Some((first, last));
        }
        let newest = Newest { head: (head.0 > 0).then_some(head), key: None };
        let trail = Self { log, head, published: Arc::new(Mutex::new(newest)), written: Vec::new(), failed: false };
        Ok((trail, recovery, unindexed))
    }

    /// The head readers see.
    pub(crate) fn published(&self) -> Published {
        Arc::clone(&self.published)
    }

    /// Takes the chain key (the first append would bring it too), so that the head is MAC'd when
    /// asked.
    pub(crate) fn set_key(&mut self, key: ChainKey) {
        self.published.lock().unwrap_or_else(PoisonError::into_inner).key = Some(key);
    }

    /// The number after the last event known to be on disk in the log.
    pub(crate) fn synced_next(&self) -> i64 {
        i64::try_from(self.log.synced_seq()).unwrap_or(i64::MAX)
    }

    /// How many events were written to the log without a sync yet.
    pub(crate) fn unsynced(&self) -> usize {
        self.written.len()
    }

    /// Links `events` after the head and makes their records (nothing is appended yet);
    /// `commits` when the batch's writes commit with the database.
    pub(crate) fn stage(&self, key: &ChainKey, events: Vec<AuditEvent>, commits: bool) -> Staged {
        let chained = key.append(self.head.0, self.head.1, events);
        let n = chained.len();
        let records = chained
            .iter()
            .enumerate()
            .map(|(i, c)| log_record::encode(c, (i + 1 == n).then_some(BatchEnd { commits })))
            .collect();
        Staged { key: key.clone(), chained, records }
    }

    /// Makes `staged` durable in the log as one batch (and what was written before it without a
    /// sync). Returns the events now durable in the log, for the index.
    pub(crate) fn append(&mut self, staged: Staged) -> Result<Vec<Unindexed>> {
        self.put(staged, true)
    }

    /// Writes `staged` to the log without waiting for the disk: for a batch whose transaction
    /// has made its records durable (`audit_pending`). Returns the events now durable in the
    /// log, for the index (those of batches before it, if the log had to sync).
    pub(crate) fn write(&mut self, staged: Staged) -> Result<Vec<Unindexed>> {
        self.put(staged, false)
    }

    /// Makes what was written durable; returns its events, for the index.
    pub(crate) fn sync(&mut self) -> Result<Vec<Unindexed>> {
        if let Err(e) = self.log.sync() {
            // The log takes nothing more until it is opened again, which writes these back from
            // the database: nothing is left to sync.
            self.written.clear();
            return Err(log_error(e));
        }
        Ok(self.synced())
    }

    /// Fails once the log or a commit has failed: a batch of writes must not commit events the
    /// log can no longer take (their numbers would be handed out again).
    pub(crate) fn usable(&self) -> Result<()> {
        if self.failed || self.log.failed() { Err(log_error(LogError::Failed)) } else { Ok(()) }
    }

    /// Takes nothing more (see `failed`).
    pub(crate) fn fail(&mut self) {
        self.failed = true;
    }

    fn put(&mut self, staged: Staged, sync: bool) -> Result<Vec<Unindexed>> {
        self.usable()?;
        let Staged { key, chained, records } = staged;
        let Some(last) = chained.last() else { return Ok(Vec::new()) };
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        if sync {
            self.log.append(&refs).map_err(log_error)?;
        } else {
            self.log.write(&refs).map_err(log_error)?;
        }
        self.head = (last.seq, last.hash);
        let mut newest = self.published.lock().unwrap_or_else(PoisonError::into_inner);
        newest.head = Some(self.head);
        if newest.key.is_none() {
            newest.key = Some(key);
        }
        drop(newest);
        let n = chained.len();
        self.written.extend(chained.into_iter().enumerate().map(|(i, event)| Unindexed { event, end: i + 1 == n }));
        Ok(self.synced())
    }

    /// The written events the log has synced, taken out of `written`. The index gets no event
    /// before its log record is on disk: an index ahead of its log reads as a cut log.
    fn synced(&mut self) -> Vec<Unindexed> {
        let next = self.synced_next();
        let n = self.written.partition_point(|u| u.event.seq < next);
        self.written.drain(..n).collect()
    }
}

/// A batch's events linked into the chain and made into log records, not yet appended.
pub(crate) struct Staged {
    key: ChainKey,
    chained: Vec<ChainedEvent>,
    records: Vec<Vec<u8>>,
}

impl Staged {
    /// The numbers of its first and last events (`None` if it has none).
    pub(crate) fn span(&self) -> Option<(i64, i64)> {
        Some((self.chained.first()?.seq, self.chained.last()?.seq))
    }

    /// Its log records.
    pub(crate) fn records(&self) -> &[Vec<u8>] {
        &self.records
    }
}

/// The log's last event after `after_seq` (`None` if it has none), for a store opened
/// read-only, which has no writer keeping it.
pub(crate) fn last_after(reader: &Reader, after_seq: i64) -> Result<Option<ChainedEvent>> {
    let mut after = seq_u64(after_seq);
    let mut last = None;
    loop {
        let page = reader.read_after(after, 4096).map_err(log_error)?;
        let Some((seq, bytes)) = page.last() else { return Ok(last) };
        after = *seq;
        last = Some(log_record::decode(*seq, bytes)?.0);
    }
}

/// Events after `after_seq` from the log in `dir`, at most `limit`.
pub(crate) fn read_after(reader: &Reader, after_seq: i64, limit: u32) -> Result<Vec<ChainedEvent>> {
    let after = u64::try_from(after_seq.max(0)).unwrap_or(0);
    reader
        .read_after(after, limit as usize)
        .map_err(log_error)?
        .into_iter()
        .map(|(seq, bytes)| log_record::decode(seq, &bytes).map(|(e, _)| e))
        .collect()
}
