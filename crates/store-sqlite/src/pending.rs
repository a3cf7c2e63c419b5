//! `audit_pending`: the log records of a batch of writes, kept in the batch's own transaction
//! so that one sync (the commit's) makes both the writes and their events durable. The batch is
//! then written to the log without waiting for the disk; its row goes once the log has synced
//! past it, and opening writes back the rows a crash kept from the log.

use clawvault_store::{Result, StoreError};
use rusqlite::{Connection, params};

use crate::backend;
use crate::sql::{all, execute};
use crate::trail::Staged;

/// Records `staged` in the transaction on `conn` as the last batch of writes (`audit_applied`),
/// and drops the rows of batches the log holds on disk (numbers below `synced_next`).
pub(crate) fn keep(conn: &Connection, staged: &Staged, synced_next: i64) -> Result<()> {
    let Some((first, last)) = staged.span() else { return Ok(()) };
    execute(conn, "DELETE FROM audit_pending WHERE last_seq < ?", [synced_next]).map_err(backend)?;
    execute(
        conn,
        "INSERT INTO audit_pending (last_seq, first_seq, records) VALUES (?, ?, ?)",
        params![last, first, pack(staged.records())],
    )
    .map_err(backend)?;
    execute(conn, "UPDATE audit_applied SET seq = ? WHERE id = 1", [last]).map_err(backend)?;
    Ok(())
}

/// A batch kept in `audit_pending`.
pub(crate) struct Kept {
    pub(crate) first: i64,
    pub(crate) last: i64,
    pub(crate) records: Vec<Vec<u8>>,
}

/// The kept batches that end after event `end`, in order.
pub(crate) fn after(conn: &Connection, end: i64) -> Result<Vec<Kept>> {
    all(
        conn,
        "SELECT first_seq, last_seq, records FROM audit_pending WHERE last_seq > ? ORDER BY last_seq",
        [end],
        |r| {
            let (first, last): (i64, i64) = (r.get(0).map_err(backend)?, r.get(1).map_err(backend)?);
            let blob: Vec<u8> = r.get(2).map_err(backend)?;
            let records = unpack(&blob).ok_or_else(|| {
                StoreError::Corrupt(format!("audit_pending: the records of events {first} to {last} do not read"))
            })?;
            Ok(Kept { first, last, records })
        },
    )
}

/// Each record as its length (u32, little-endian) and its bytes.
fn pack(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|r| r.len() + 4).sum());
    for r in records {
        out.extend_from_slice(&u32::try_from(r.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(r);
    }
    out
}

fn unpack(mut blob: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut records = Vec::new();
    while !blob.is_empty() {
        let (len, rest) = blob.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
        let record = rest.get(..len)?;
        records.push(record.to_vec());
        blob = &rest[len..];
    }
    Some(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_and_a_cut_blob_does_not() {
        let records = vec![b"one".to_vec(), Vec::new(), b"three".to_vec()];
        let blob = pack(&records);
        assert_eq!(unpack(&blob), Some(records));
        for cut in 1..blob.len() {
            if cut != 7 && cut != 11 {
                assert_eq!(unpack(&blob[..cut]), None, "cut at {cut}");
            }
        }
    }
}
