//! The one error type of the blob layer. Messages say what went wrong and what
//! to do about it; they never carry key material, credentials or chunk bytes.

use crate::id::ChunkId;

/// Why a chunk could not be stored, found or trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// The chunk failed authentication, decompression or its content address:
    /// its bytes were changed, truncated, swapped or moved from elsewhere.
    #[error("chunk {id} is damaged or was tampered with; restore it from a backup or replica")]
    Damaged {
        /// The chunk that failed verification.
        id: ChunkId,
    },
    /// The chunk store holds no chunk with this id for the tenant.
    #[error("chunk {id} is missing from the chunk store; restore it from a backup or replica")]
    Missing {
        /// The chunk that was not found.
        id: ChunkId,
    },
    /// The chunk store location could not be understood.
    #[error("invalid chunk store location: {0}")]
    InvalidUrl(String),
    /// The chunk store (disk or object storage) refused or failed an operation.
    #[error("chunk store error: {0}; check that the store is reachable, writable and has space")]
    Store(String),
    /// The content being written could not be read from its source.
    #[error("could not read the content being stored: {0}")]
    Source(String),
    /// A chunk id was not 64 lowercase hexadecimal characters.
    #[error("invalid chunk id: expected 64 lowercase hexadecimal characters")]
    InvalidId,
    /// A tenant id cannot be used as part of a storage path.
    #[error("invalid tenant id for the chunk store: use 1 to 128 ASCII letters, digits, '-' or '_'")]
    InvalidTenant,
    /// Chunk sizes outside what FastCDC and the chunk format accept.
    #[error("invalid chunk sizes: {0}")]
    InvalidChunkSizes(String),
    /// A byte range that does not fit the content.
    #[error("invalid byte range {start}..{end} for content of {size} bytes")]
    InvalidRange {
        /// First byte requested.
        start: u64,
        /// One past the last byte requested.
        end: u64,
        /// Length of the content.
        size: u64,
    },
    /// A manifest whose chunk lengths disagree with its size or its chunks.
    #[error("the file manifest is inconsistent with its chunks; restore it from a backup")]
    InvalidManifest,
    /// A background task failed; this is a bug, please report it.
    #[error("internal error in the chunk layer: {0}")]
    Internal(String),
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<tokio::task::JoinError> for BlobError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(format!("a background task failed: {e}"))
    }
}
