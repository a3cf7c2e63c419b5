//! Filtered audit queries and the deferred lookup index behind them.
//!
//! `audit_events` is the index of the audit log (see `trail`), filled in batches as the log
//! grows. `audit_lookup` is filled from it in runs of [`RUN`] events, each under a key prefix
//! of its own (`run`, listed in `audit_runs`). Before runs, every batch merged its lookups into
//! one sort order as large as the history, so each event of a random resource dirtied a leaf of
//! its own, and those page writes and their checkpoints slowed the log's `fdatasync` on the same
//! disk. A query seeks each run for its candidates up to the merged mark and scans the events
//! after it (fewer than a run and a batch).

use std::sync::{Mutex, PoisonError};

use clawvault_core::audit::ChainedEvent;
use clawvault_store::{AuditFilter, Result};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::backend;
use crate::convert::{self, decode, micros};

/// Events indexed per transaction: large enough to amortise page writes, small enough that a
/// commit waiting behind it is delayed by milliseconds only.
pub(crate) const INDEX_BATCH: i64 = 2048;

/// Events per run of lookups: by arithmetic (four lookups of some 45 bytes each), about 0.05
/// of a page written per event; the merge is four statements, one per kind of lookup.
pub(crate) const RUN: i64 = clawvault_store::AUDIT_LOOKUP_RUN;

/// The lookups kept per event: their kind and the expression of `audit_events` they hold.
const LOOKUPS: [(i64, &str); 4] =
    [(1, "action"), (2, "actor_id"), (3, "resource_id"), (4, "printf('%020d', created_at)")];

/// Events up to this seq are in `audit_lookup`.
pub(crate) fn indexed_mark(conn: &Connection) -> Result<i64> {
    conn.prepare_cached("SELECT seq FROM audit_indexed WHERE id = 1")
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .map(Option::unwrap_or_default)
        .map_err(backend)
}

/// Merges the lookups of the next `len` events past the mark as one run, if `audit_events`
/// holds them all, one statement at a time, each under `lock` (SQLite's write lock as the
/// writer sees it), so that a batch of writes waits for one statement at most. Returns whether
/// it merged.
///
/// A merge cut short leaves lookups past the mark, which no query reads (queries take lookups
/// up to the mark only): the next merge starts at the same mark, under the same run, and
/// completes them. The run is listed before the mark moves past it, so no lookup below the
/// mark is in a run queries do not seek.
pub(crate) fn merge_run(conn: &Connection, len: i64, lock: &Mutex<()>) -> Result<bool> {
    let from = indexed_mark(conn)?;
    let to = from + len;
    // Sequence numbers are gap-free: the run is whole when its last event is there.
    let whole: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM audit_events WHERE seq = ?)")
        .and_then(|mut s| s.query_row([to], |r| r.get(0)))
        .map_err(backend)?;
    if !whole {
        return Ok(false);
    }
    let locked = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<()> {
        let _held = lock.lock().unwrap_or_else(PoisonError::into_inner);
        conn.prepare_cached(sql).and_then(|mut s| s.execute(p)).map(drop).map_err(backend)
    };
    for (kind, expr) in LOOKUPS {
        locked(
            &format!(
                "INSERT OR IGNORE INTO audit_lookup (kind, run, value, seq) \
                 SELECT ?1, ?2, {expr}, seq FROM audit_events WHERE seq > ?2 AND seq <= ?3 ORDER BY 3, 4"
            ),
            &[&kind, &from, &to],
        )?;
    }
    locked("INSERT OR IGNORE INTO audit_runs (run) VALUES (?)", &[&from])?;
    locked("UPDATE audit_indexed SET seq = ? WHERE id = 1", &[&to])?;
    Ok(true)
}

/// Positional parameters of a query being composed.
#[derive(Default)]
struct Args(Vec<Value>);

impl Args {
    /// Adds a value and returns its placeholder.
    fn bind(&mut self, v: Value) -> String {
        self.0.push(v);
        format!("?{}", self.0.len())
    }
}

fn time_key(micros: i64) -> String {
    format!("{micros:020}")
}

/// Events matching `f`, oldest first, and the number of all matching events.
pub(crate) fn list(conn: &Connection, f: &AuditFilter) -> Result<(Vec<ChainedEvent>, u64)> {
    let mark = indexed_mark(conn)?;
    let equalities = [(1, "action", &f.action), (3, "resource_id", &f.resource_id), (2, "actor_id", &f.actor_id)];
    let mut args = Args::default();
    // The most selective filter drives the candidates; the others are checked on the rows.
    let driver = equalities.iter().rev().find(|(_, _, v)| v.is_some());
    let mut residual = String::new();
    let candidates = if let Some((kind, column, Some(value))) = driver {
        let v = args.bind(Value::Text(value.clone()));
        let m = args.bind(Value::Integer(mark));
        Some(format!(
            "SELECT l.seq FROM audit_runs r CROSS JOIN audit_lookup l \
               ON l.kind = {kind} AND l.run = r.run AND l.value = {v} WHERE l.seq <= {m} \
             UNION ALL SELECT seq FROM audit_events WHERE seq > {m} AND {column} = {v}"
        ))
    } else if f.from.is_some() || f.to.is_some() {
        let lo = args.bind(Value::Text(time_key(f.from.map_or(0, micros))));
        let hi = args.bind(Value::Text(time_key(f.to.map_or(i64::MAX, micros))));
        let lo_n = args.bind(Value::Integer(f.from.map_or(i64::MIN, micros)));
        let hi_n = args.bind(Value::Integer(f.to.map_or(i64::MAX, micros)));
        let m = args.bind(Value::Integer(mark));
        Some(format!(
            "SELECT l.seq FROM audit_runs r CROSS JOIN audit_lookup l \
               ON l.kind = 4 AND l.run = r.run AND l.value >= {lo} AND l.value <= {hi} WHERE l.seq <= {m} \
             UNION ALL SELECT seq FROM audit_events WHERE seq > {m} AND created_at >= {lo_n} AND created_at <= {hi_n}"
        ))
    } else {
        None
    };
    for (_, column, value) in &equalities {
        if let Some(v) = value {
            let p = args.bind(Value::Text(v.clone()));
            residual.push_str(&format!(" AND e.{column} = {p}"));
        }
    }
    if let Some(from) = f.from {
        let p = args.bind(Value::Integer(micros(from)));
        residual.push_str(&format!(" AND e.created_at >= {p}"));
    }
    if let Some(to) = f.to {
        let p = args.bind(Value::Integer(micros(to)));
        residual.push_str(&format!(" AND e.created_at <= {p}"));
    }
    let source = match &candidates {
        Some(c) => format!(
            "(WITH cand(seq) AS ({c}) SELECT e.* FROM cand JOIN audit_events e ON e.seq = cand.seq WHERE 1 = 1{residual})"
        ),
        None => "audit_events".to_owned(),
    };
    let total: i64 = if candidates.is_some() {
        conn.prepare_cached(&format!("SELECT COUNT(*) FROM {source}"))
            .and_then(|mut s| s.query_row(params_from_iter(args.0.iter()), |r| r.get(0)))
            .map_err(backend)?
    } else {
        // Sequence numbers are gap-free, so the newest is the count (no full scan).
        conn.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM audit_events")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(backend)?
    };
    let limit = args.bind(Value::Integer(i64::from(f.limit)));
    let offset = args.bind(Value::Integer(i64::try_from(f.offset).unwrap_or(i64::MAX)));
    let order = if f.newest_first { "DESC" } else { "ASC" };
    let sql = format!("SELECT * FROM {source} ORDER BY seq {order} LIMIT {limit} OFFSET {offset}");
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt.query_map(params_from_iter(args.0.iter()), decode(convert::chained_event)).map_err(backend)?;
    let events = rows.map(|r| r.map_err(backend).and_then(|x| x)).collect::<Result<Vec<_>>>()?;
    Ok((events, u64::try_from(total).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use rusqlite::params;
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    const EVENTS: i64 = 61;

    fn database() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::migrate::run(&mut conn).unwrap();
        for seq in 1..=EVENTS {
            conn.execute(
                "INSERT INTO audit_events (seq, id, created_at, action, outcome, actor_type, actor_id, \
                 resource_type, resource_id, details, prev_hash, hash) \
                 VALUES (?, ?, ?, ?, 'success', 'agent', ?, 'secret', ?, '{}', zeroblob(32), zeroblob(32))",
                params![
                    seq,
                    Uuid::now_v7(),
                    1_700_000_000_000_000 + seq * 1_000_000,
                    format!("action-{}", seq % 3),
                    format!("actor-{}", seq % 4),
                    format!("vault/key-{}", seq * 7 % 11),
                ],
            )
            .unwrap();
        }
        conn
    }

    fn at(seq: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(1_700_000_000_000_000 + seq * 1_000_000) * 1_000).unwrap()
    }

    /// Every kind of filter, alone and together, paged both ways.
    fn filters() -> Vec<AuditFilter> {
        let mut all = Vec::new();
        for action in [None, Some("action-1")] {
            for actor in [None, Some("actor-2")] {
                for resource in [None, Some("vault/key-3"), Some("vault/none")] {
                    for (from, to) in [(None, None), (Some(at(5)), None), (Some(at(10)), Some(at(50)))] {
                        for (offset, newest_first) in [(0, false), (2, true)] {
                            all.push(AuditFilter {
                                action: action.map(str::to_owned),
                                actor_id: actor.map(str::to_owned),
                                resource_id: resource.map(str::to_owned),
                                from,
                                to,
                                limit: 5,
                                offset,
                                newest_first,
                            });
                        }
                    }
                }
            }
        }
        all
    }

    /// What a filter must find, by reading every event.
    fn expected(conn: &Connection, f: &AuditFilter) -> (Vec<i64>, u64) {
        let unfiltered = AuditFilter { limit: u32::MAX, ..AuditFilter::default() };
        let (events, _) = list(conn, &unfiltered).unwrap();
        let mut seqs: Vec<i64> = events
            .iter()
            .filter(|c| {
                let e = &c.event;
                f.action.as_ref().is_none_or(|a| *a == e.action)
                    && f.actor_id.as_ref().is_none_or(|a| *a == e.actor_id)
                    && f.resource_id.as_ref().is_none_or(|r| *r == e.resource_id)
                    && f.from.is_none_or(|t| e.created_at >= t)
                    && f.to.is_none_or(|t| e.created_at <= t)
            })
            .map(|c| c.seq)
            .collect();
        let total = seqs.len() as u64;
        if f.newest_first {
            seqs.reverse();
        }
        (seqs.into_iter().skip(usize::try_from(f.offset).unwrap()).take(f.limit as usize).collect(), total)
    }

    fn check(conn: &Connection, when: &str) {
        for f in filters() {
            let (events, total) = list(conn, &f).unwrap();
            let got = (events.iter().map(|c| c.seq).collect::<Vec<_>>(), total);
            assert_eq!(got, expected(conn, &f), "{when}: {f:?}");
        }
    }

    #[test]
    fn queries_find_the_same_events_in_runs_and_in_the_tail() {
        let conn = database();
        let lock = Mutex::new(());
        check(&conn, "nothing merged");
        let mut runs = 0;
        while merge_run(&conn, 8, &lock).unwrap() {
            runs += 1;
            check(&conn, &format!("{runs} runs merged"));
        }
        assert_eq!(runs, EVENTS / 8);
        assert_eq!(indexed_mark(&conn).unwrap(), EVENTS / 8 * 8, "the last events stay in the tail");
        let listed: i64 = conn.query_row("SELECT COUNT(*) FROM audit_runs", [], |r| r.get(0)).unwrap();
        assert_eq!(listed, runs, "run 0 is the first run merged");
    }

    #[test]
    fn a_merge_cut_short_is_read_by_no_query_and_completed_by_the_next() {
        let conn = database();
        let lock = Mutex::new(());
        assert!(merge_run(&conn, 16, &lock).unwrap());
        // As if the merge of the second run had stopped before listing it and moving the mark.
        assert!(merge_run(&conn, 16, &lock).unwrap());
        conn.execute_batch("DELETE FROM audit_runs WHERE run = 16; UPDATE audit_indexed SET seq = 16").unwrap();
        conn.execute("DELETE FROM audit_lookup WHERE kind = 4 AND run = 16", []).unwrap();
        check(&conn, "cut short");
        assert!(merge_run(&conn, 16, &lock).unwrap());
        let kept: i64 = conn.query_row("SELECT COUNT(*) FROM audit_lookup WHERE run = 16", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, 4 * 16, "every lookup of the run, once");
        check(&conn, "completed");
        // A mark moved back behind listed lookups: queries read the events past it once, from
        // the tail.
        conn.execute("UPDATE audit_indexed SET seq = 20", []).unwrap();
        check(&conn, "mark moved back");
        // What opening then does (trail.rs): drop the lookups and runs past the mark, merge on.
        conn.execute_batch("DELETE FROM audit_lookup WHERE seq > 20; DELETE FROM audit_runs WHERE run >= 20").unwrap();
        while merge_run(&conn, 16, &lock).unwrap() {}
        assert_eq!(indexed_mark(&conn).unwrap(), 52);
        check(&conn, "merged again from the mark");
    }

    #[test]
    fn a_run_is_read_only_once_listed() {
        let conn = database();
        let lock = Mutex::new(());
        assert!(merge_run(&conn, 16, &lock).unwrap());
        // The order merge_run keeps the other way round: the mark moved, the run not listed.
        conn.execute("DELETE FROM audit_runs", []).unwrap();
        let f = AuditFilter { resource_id: Some("vault/key-7".into()), limit: 100, ..AuditFilter::default() };
        let (found, _) = list(&conn, &f).unwrap();
        assert!(found.iter().all(|c| c.seq > 16), "the unlisted run's events are not found");
        assert!(expected(&conn, &f).0.iter().any(|seq| *seq <= 16), "though it holds some");
    }
}
