//! The durable half of the audit trail: an append-only log of records in preallocated segment
//! files. A batch of records is one `pwrite` and one `fdatasync`; no B-tree page, no journal of
//! a size change (the space was allocated beforehand), so a durable record costs what the disk's
//! sync floor allows (`bench/syncfloor.py`). What makes the records queryable (indexes) is built
//! behind it from the log, and can be rebuilt from it.
//!
//! - [`frame`]: how one record is laid out, and the check that finds a torn one.
//! - [`Log`]: opening (finding where the last good record ends), appending, reading back.
//!
//! The records' content (audit events in the HMAC chain) is the caller's; this crate knows
//! only sequence numbers and bytes.

pub mod frame;
mod log;

pub use log::{Log, Opened, Torn};

/// Why the log could not be opened, appended to or read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file system refused.
    #[error("audit log {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// A record whose sequence number does not follow the one before.
    #[error("audit log: record {found} where {expected} was due")]
    Sequence {
        /// The number the log expected.
        expected: u64,
        /// The number it was given or found.
        found: u64,
    },
    /// A record larger than a segment can hold.
    #[error("audit log: a record of {0} bytes is larger than a segment")]
    TooLarge(usize),
    /// Damage before the tail: a segment other than the last one does not read to its end.
    #[error("audit log {path}: damaged at byte {offset}, before the last segment; restore it from a backup")]
    Damaged {
        /// The segment.
        path: String,
        /// Where the damage starts.
        offset: u64,
    },
}
