//! Files as chunks (DESIGN.md, Files): content-defined chunking with FastCDC,
//! zstd compression, sealing with the tenant's key, keyed content addresses
//! so dedup works inside a tenant and leaks nothing across tenants, and the
//! chunk store on a local folder or S3.
//!
//! A file version is a [`Manifest`]: its chunk ids and lengths, its size and
//! the SHA-256 of the whole content. Chunks are immutable; replication is
//! copying what a target lacks.

mod chunker;
mod error;
mod id;
mod keys;
mod location;
mod store;
mod stream;

pub use chunker::{AVG_CHUNK, Chunker, MAX_CHUNK, MIN_CHUNK};
pub use error::BlobError;
pub use id::ChunkId;
pub use keys::TenantKeys;
pub use store::{ChunkStore, object_store_at};
pub use stream::{ChunkRef, Manifest, WriteStats, read_files, read_range, write_stream};
