//! The audit trail of a SQLite store. Its durable record is the append-only log beside the
//! database file (`clawvault-auditlog`): a batch of events is one write and one `fdatasync`,
//! with no B-tree page on the way, so a read's audit event costs what the disk's sync floor
//! allows. `audit_events` (with `audit_lookup` and `audit_head`) is the log's index, filled
//! behind it in large transactions by the writer thread, from the events it keeps in memory
//! until then (and, after a restart, from the log's tail).
//!
//! Writes and the log are two files: a batch that holds writes logs its events first, records
//! the last one's number in `audit_applied` inside its transaction, and then commits. A
//! logged batch of writes above that mark never committed; opening reports it, as it reports a
//! torn tail that the log cut away.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use clawvault_auditlog::{Log, LogError, Reader};
use clawvault_core::audit::{AuditEvent, ChainHead, ChainKey, ChainedEvent, GENESIS};
use clawvault_store::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::convert::micros;
use crate::log_record::{self, BatchEnd};
use crate::{audit, audit_query, backend};

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
        self.torn.is_none() && self.uncommitted.is_none()
    }
}

/// The newest durable head, shared with readers (who answer `audit_head` with it).
pub(crate) type Published = Arc<Mutex<Option<ChainHead>>>;

/// An event appended to the log and not yet indexed, with the MAC if it ended its batch.
struct Unindexed {
    event: ChainedEvent,
    mac: Option<[u8; 32]>,
}

/// The writer thread's side: the log, the chain's head, the events not yet indexed.
pub(crate) struct Trail {
    log: Log,
    head: (i64, [u8; 32]),
    published: Published,
    unindexed: VecDeque<Unindexed>,
}

fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

fn max_indexed(conn: &Connection) -> Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_events", [], |r| r.get(0)).map_err(backend)
}

fn applied(conn: &Connection) -> Result<i64> {
    conn.query_row("SELECT seq FROM audit_applied WHERE id = 1", [], |r| r.get(0))
        .optional()
        .map(Option::unwrap_or_default)
        .map_err(backend)
}

/// Copies the events of a database from before the log into a new log.
fn migrate(conn: &Connection, log: &mut Log) -> Result<u64> {
    const PAGE: i64 = 1000;
    let head = audit::head(conn)?;
    let (mut after, mut copied) = (0i64, 0u64);
    loop {
        let page: Vec<ChainedEvent> = crate::sql::all(
            conn,
            "SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?",
            params![after, PAGE],
            crate::convert::chained_event,
        )?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let records: Vec<Vec<u8>> = page
            .iter()
            .map(|c| {
                let end = head.as_ref().filter(|h| h.seq == c.seq).map(|h| BatchEnd { mac: h.mac, commits: false });
                log_record::encode(c, end)
            })
            .collect();
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        log.append(&refs).map_err(log_error)?;
        copied += page.len() as u64;
    }
    Ok(copied)
}

impl Trail {
    /// Opens the log of the database on `conn` (making it, and copying in the events of a
    /// database from before the log), cuts a torn tail, loads what the index lacks, and says
    /// what it found.
    ///
    /// # Errors
    /// The log cannot be opened, is damaged, or ends before events its index holds (the log
    /// was cut: the database's owner must look before anything more is appended).
    pub(crate) fn open(conn: &Connection, dir: &Path) -> Result<(Self, Recovery)> {
        let mut recovery = Recovery::default();
        let fresh = !Reader::new(dir).exists().map_err(log_error)?;
        let opened = Log::open(dir, 1).map_err(log_error)?;
        let mut log = opened.log;
        if fresh {
            recovery.migrated = migrate(conn, &mut log)?;
        }
        if let Some(t) = opened.torn {
            recovery.torn = Some(TornTail {
                segment: t.segment,
                offset: t.offset,
                bytes: t.bytes,
                next_seq: i64::try_from(t.seq).unwrap_or(i64::MAX),
            });
        }
        let indexed = max_indexed(conn)?;
        // The lookup index covers no more than the events indexed (an index emptied to be
        // rebuilt from the log), and a database from before the log may have events it lacks.
        conn.execute("DELETE FROM audit_lookup WHERE seq > ?", [indexed]).map_err(backend)?;
        conn.execute("UPDATE audit_indexed SET seq = MIN(seq, ?) WHERE id = 1", [indexed]).map_err(backend)?;
        while audit_query::index_next(conn, audit_query::INDEX_BATCH)? > 0 {}
        let end = i64::try_from(log.next_seq()).unwrap_or(i64::MAX) - 1;
        if end < indexed {
            return Err(StoreError::Corrupt(format!(
                "the audit log in {} ends at event {end} but its index holds events up to {indexed}: the log was cut. \
                 Run `clawvault audit verify` and restore the data directory from a backup",
                dir.display()
            )));
        }
        let mut unindexed = VecDeque::new();
        let mut head = (0, GENESIS);
        let mut published = audit::head(conn)?;
        let mut batch_first = indexed + 1;
        let mut last_batch = None;
        let reader = Reader::new(dir);
        for (seq, bytes) in reader.read_after(seq_u64(indexed), usize::MAX).map_err(log_error)? {
            let (event, end) = log_record::decode(seq, &bytes)?;
            head = (event.seq, event.hash);
            if let Some(b) = end {
                published = Some(ChainHead { seq: event.seq, hash: event.hash, mac: b.mac });
                last_batch = Some((batch_first, event.seq, b.commits));
                batch_first = event.seq + 1;
            }
            unindexed.push_back(Unindexed { event, mac: end.map(|b| b.mac) });
        }
        if let Some((first, last, true)) = last_batch
            && applied(conn)? < last
        {
            recovery.uncommitted = Some((first, last));
        }
        if unindexed.is_empty() && indexed > 0 {
            // The index holds everything: the head is the index's newest event.
            head = conn
                .query_row("SELECT seq, hash FROM audit_events WHERE seq = ?", [indexed], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .map_err(backend)
                .and_then(|(s, h)| Ok((s, crate::convert::hash32(&h, "audit hash")?)))?;
        }
        let trail = Self { log, head, published: Arc::new(Mutex::new(published)), unindexed };
        Ok((trail, recovery))
    }

    /// The head readers see.
    pub(crate) fn published(&self) -> Published {
        Arc::clone(&self.published)
    }

    /// The number the next event gets.
    pub(crate) fn next_seq(&self) -> i64 {
        self.head.0 + 1
    }

    /// Links `events` after the head (nothing is appended yet).
    pub(crate) fn chain(&self, key: &ChainKey, events: Vec<AuditEvent>) -> Vec<ChainedEvent> {
        key.append(self.head.0, self.head.1, events)
    }

    /// Makes `chained` (just linked by [`Trail::chain`]) durable as one batch; `commits` when
    /// the batch's writes commit with the database after this.
    pub(crate) fn append(&mut self, key: &ChainKey, chained: Vec<ChainedEvent>, commits: bool) -> Result<()> {
        let Some(last) = chained.last() else { return Ok(()) };
        let head = key.head(last.seq, last.hash);
        let n = chained.len();
        let records: Vec<Vec<u8>> = chained
            .iter()
            .enumerate()
            .map(|(i, c)| log_record::encode(c, (i + 1 == n).then_some(BatchEnd { mac: head.mac, commits })))
            .collect();
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        self.log.append(&refs).map_err(log_error)?;
        self.head = (head.seq, head.hash);
        let mac = head.mac;
        *self.published.lock().unwrap_or_else(PoisonError::into_inner) = Some(head);
        for (i, event) in chained.into_iter().enumerate() {
            self.unindexed.push_back(Unindexed { event, mac: (i + 1 == n).then_some(mac) });
        }
        Ok(())
    }

    /// Events appended and not yet indexed.
    pub(crate) fn pending(&self) -> usize {
        self.unindexed.len()
    }

    /// Indexes up to `max` events in the caller's transaction; [`Trail::indexed`] drops them
    /// once it committed. Returns how many.
    pub(crate) fn index(&self, conn: &Connection, max: usize) -> Result<usize> {
        let n = self.unindexed.len().min(max);
        if n == 0 {
            return Ok(0);
        }
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO audit_events (seq, id, created_at, action, outcome, actor_type, actor_id, \
                 resource_type, resource_id, vault_id, ip_address, details, prev_hash, hash) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .map_err(backend)?;
        let mut head = None;
        for u in self.unindexed.iter().take(n) {
            let (c, e) = (&u.event, &u.event.event);
            insert
                .execute(params![
                    c.seq,
                    e.id,
                    micros(e.created_at),
                    e.action,
                    e.outcome.as_str(),
                    e.actor_type,
                    e.actor_id,
                    e.resource_type,
                    e.resource_id,
                    e.vault_id,
                    e.ip_address,
                    e.details,
                    &c.prev_hash[..],
                    &c.hash[..],
                ])
                .map_err(backend)?;
            if let Some(mac) = u.mac {
                head = Some((c.seq, c.hash, mac));
            }
        }
        audit_query::index_next(conn, i64::try_from(n).unwrap_or(i64::MAX))?;
        if let Some((seq, hash, mac)) = head {
            conn.prepare_cached(
                "INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, ?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac",
            )
            .and_then(|mut s| s.execute(params![seq, &hash[..], &mac[..]]))
            .map_err(backend)?;
        }
        Ok(n)
    }

    /// Drops the `n` oldest unindexed events: their index committed.
    pub(crate) fn indexed(&mut self, n: usize) {
        self.unindexed.drain(..n.min(self.unindexed.len()));
    }
}

/// The newest head of the log in `dir` after the index's (`None` if the log has nothing
/// after `index_head`): for a store opened read-only, which has no writer keeping it.
pub(crate) fn log_head(dir: &Path, index_head: Option<&ChainHead>) -> Result<Option<ChainHead>> {
    let reader = Reader::new(dir);
    let mut head = None;
    let mut after = index_head.map_or(0, |h| seq_u64(h.seq));
    loop {
        let page = reader.read_after(after, 4096).map_err(log_error)?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (seq, bytes) in &page {
            if let (event, Some(end)) = log_record::decode(*seq, bytes)? {
                head = Some(ChainHead { seq: event.seq, hash: event.hash, mac: end.mac });
            }
        }
    }
    Ok(head)
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
