//! The durable half of the audit trail: an append-only log of records in preallocated segment
//! files. A batch of records is one `pwrite` and one `fdatasync`; no B-tree page, no journal of
//! a size change (the space was allocated beforehand), so a durable record costs what the disk's
//! sync floor allows (`bench/syncfloor.py`). What makes the records queryable (indexes) is built
//! behind it from the log, and can be rebuilt from it.
//!
//! - [`frame`]: how one record is laid out, and the check that finds a torn one.
//! - [`Log`]: opening (finding where the last whole batch ends), appending.
//! - [`Reader`]: reading whole batches back while the log grows.
//!
//! The records' content (audit events in the HMAC chain) is the caller's; this crate knows
//! only sequence numbers and bytes.

pub mod frame;
mod log;
mod reader;
mod walk;

pub use log::{Log, Opened, SEGMENT_BYTES, Torn, UNSYNCED_MAX};
pub use reader::Reader;

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
    /// A batch larger than a segment can hold.
    #[error("audit log: a batch of {0} bytes is larger than a segment")]
    TooLarge(usize),
    /// Another process appends to this log.
    #[error("audit log {0}: another clawvault server is using it; stop that server first")]
    Locked(String),
    /// An earlier write or sync failed, so what is on disk is unknown.
    #[error("audit log: an earlier write failed; nothing more is appended until the log is opened again")]
    Failed,
    /// Damage: a segment before the last that does not read to its clean end, or valid records
    /// past a tear further than a crash can explain.
    #[error(
        "audit log {path}: damaged at byte {offset}; run `clawvault audit verify` and restore the log from a backup"
    )]
    Damaged {
        /// The segment.
        path: String,
        /// Where the damage starts.
        offset: u64,
    },
}
