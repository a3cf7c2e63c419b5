use thiserror::Error;

/// Failures of a store. Messages carry no secret values: the store never sees one.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A uniqueness or compare-and-set check failed; the caller may re-read and retry.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Backend(String),
    /// Stored data does not decode (manual edits, corruption).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}
