//! Tampering with a stopped server's audit log as an attacker with the files would: records
//! rewritten in place with their frame checks recomputed (the checks find torn writes, not
//! forgeries; the chain's MACs find those).

use std::path::{Path, PathBuf};

use clawvault_auditlog::frame::{self, Decoded, Mark};
use serde_json::Value;

/// One record of the log.
#[derive(Debug, Clone)]
pub struct Record {
    pub seq: u64,
    pub event: Value,
    pub mark: Mark,
}

/// The log's one segment (test servers write far less than a segment).
fn segment(data: &Path) -> PathBuf {
    let dir = data.join("clawvault.sqlite-audit");
    let mut segs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    assert_eq!(segs.len(), 1, "one segment in {}", dir.display());
    segs.pop().unwrap()
}

/// The segment's bytes.
pub fn segment_bytes(data: &Path) -> Vec<u8> {
    std::fs::read(segment(data)).unwrap()
}

/// Every record, in order.
pub fn records(data: &Path) -> Vec<Record> {
    let bytes = std::fs::read(segment(data)).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while let Decoded::Record { seq, payload, len, mark } = frame::decode(&bytes[at..]) {
        out.push(Record { seq, event: serde_json::from_slice(payload).unwrap(), mark });
        at += len;
    }
    out
}

/// The event id of record `seq`.
pub fn event_id(data: &Path, seq: u64) -> String {
    let r = records(data).into_iter().find(|r| r.seq == seq).unwrap();
    r.event["id"].as_str().unwrap().to_owned()
}

/// Writes `records` as the whole log, numbered on from the first, the last one ending a batch.
pub fn rewrite(data: &Path, records: &[Record]) {
    let path = segment(data);
    let size = std::fs::metadata(&path).unwrap().len() as usize;
    let first = records.first().map_or(1, |r| r.seq);
    let mut bytes = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let mark = if i + 1 == records.len() && !r.mark.ends() { Mark::End } else { r.mark };
        frame::encode(first + i as u64, &serde_json::to_vec(&r.event).unwrap(), mark, &mut bytes);
    }
    bytes.resize(size, 0);
    std::fs::write(&path, bytes).unwrap();
}

/// Flips one byte inside record `seq`'s payload without fixing its frame check (damage, or a
/// careless edit).
pub fn damage(data: &Path, seq: u64) {
    let path = segment(data);
    let mut bytes = std::fs::read(&path).unwrap();
    let mut at = 0;
    while let Decoded::Record { seq: s, len, .. } = frame::decode(&bytes[at..]) {
        if s == seq {
            bytes[at + 20] ^= 0x01;
            std::fs::write(&path, bytes).unwrap();
            return;
        }
        at += len;
    }
    panic!("no record {seq}");
}
