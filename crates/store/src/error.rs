//! The one error of the store layer.

/// What went wrong in a backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A named constraint refused the write; nothing was written.
    #[error("conflict on {0}")]
    Conflict(crate::Constraint),
    /// A row the change expected as its author read it was changed
    /// meanwhile (`Change::expecting`); nothing was written.
    #[error("a row of {0} was changed meanwhile")]
    Stale(&'static str),
    /// The change would take its tenant's file bytes past the limit it
    /// carries (`Change::within_storage`); nothing was written.
    #[error("the tenant's storage is full")]
    StorageFull,
    /// Stored data could not be read back into its types.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed (I/O, locking, connection).
    #[error("database error: {0}")]
    Backend(String),
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;
