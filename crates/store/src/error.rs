use thiserror::Error;

/// Failures of a store. Messages carry no secret values: the store never sees one.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A uniqueness or compare-and-set check failed; the caller may re-read and retry.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The input holds something this database cannot store (PostgreSQL text cannot hold a
    /// NUL character); the caller's request is at fault, not the database.
    #[error("unstorable input: {0}")]
    Unstorable(&'static str),
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Backend(String),
    /// Stored data does not decode (manual edits, corruption).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}
