//! The one error of this crate: which kind of value was refused, and why.

/// A value that could not be parsed into its domain type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {reason}")]
pub struct Invalid {
    /// Stable name of the value kind (`email`, `phone`, `name`, `slug`, `role`, `id`).
    pub kind: &'static str,
    /// A sentence for people, never containing the refused value itself.
    pub reason: &'static str,
}

impl Invalid {
    pub(crate) const fn new(kind: &'static str, reason: &'static str) -> Self {
        Self { kind, reason }
    }
}
