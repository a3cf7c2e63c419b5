//! Filtered audit queries and the deferred lookup index behind them.
//!
//! `audit_events` is the index of the audit log (see `trail`), filled in batches of thousands;
//! `audit_lookup` is filled from it in the same transactions, sorted (each lookup page is
//! written once per batch, not once per event). A query takes its candidates from
//! `audit_lookup` for events up to the indexed mark and scans only the tail after it.

use clawvault_core::audit::ChainedEvent;
use clawvault_store::{AuditFilter, Result};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::backend;
use crate::convert::{self, decode, micros};

/// Events indexed per transaction: large enough to amortise page writes, small enough that a
/// commit waiting behind it is delayed by milliseconds only.
pub(crate) const INDEX_BATCH: i64 = 2048;

/// Events up to this seq are in `audit_lookup`.
pub(crate) fn indexed_mark(conn: &Connection) -> Result<i64> {
    conn.prepare_cached("SELECT seq FROM audit_indexed WHERE id = 1")
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .map(Option::unwrap_or_default)
        .map_err(backend)
}

/// Indexes up to `max` events after the mark, in the caller's transaction. Returns how many.
pub(crate) fn index_next(conn: &Connection, max: i64) -> Result<i64> {
    let from = indexed_mark(conn)?;
    let to: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), ?1) FROM audit_events WHERE seq > ?1 AND seq <= ?2")
        .and_then(|mut s| s.query_row(params![from, from + max], |r| r.get(0)))
        .map_err(backend)?;
    if to <= from {
        return Ok(0);
    }
    conn.prepare_cached(
        "INSERT OR IGNORE INTO audit_lookup (kind, value, seq) SELECT kind, value, seq FROM ( \
           SELECT 1 AS kind, action AS value, seq FROM audit_events WHERE seq > ?1 AND seq <= ?2 \
           UNION ALL SELECT 2, actor_id, seq FROM audit_events WHERE seq > ?1 AND seq <= ?2 \
           UNION ALL SELECT 3, resource_id, seq FROM audit_events WHERE seq > ?1 AND seq <= ?2 \
           UNION ALL SELECT 4, printf('%020d', created_at), seq FROM audit_events WHERE seq > ?1 AND seq <= ?2 \
         ) ORDER BY kind, value, seq",
    )
    .and_then(|mut s| s.execute(params![from, to]))
    .map_err(backend)?;
    conn.prepare_cached("UPDATE audit_indexed SET seq = ? WHERE id = 1")
        .and_then(|mut s| s.execute([to]))
        .map_err(backend)?;
    Ok(to - from)
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
            "SELECT seq FROM audit_lookup WHERE kind = {kind} AND value = {v} AND seq <= {m} \
             UNION ALL SELECT seq FROM audit_events WHERE seq > {m} AND {column} = {v}"
        ))
    } else if f.from.is_some() || f.to.is_some() {
        let lo = args.bind(Value::Text(time_key(f.from.map_or(0, micros))));
        let hi = args.bind(Value::Text(time_key(f.to.map_or(i64::MAX, micros))));
        let lo_n = args.bind(Value::Integer(f.from.map_or(i64::MIN, micros)));
        let hi_n = args.bind(Value::Integer(f.to.map_or(i64::MAX, micros)));
        let m = args.bind(Value::Integer(mark));
        Some(format!(
            "SELECT seq FROM audit_lookup WHERE kind = 4 AND value >= {lo} AND value <= {hi} AND seq <= {m} \
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
