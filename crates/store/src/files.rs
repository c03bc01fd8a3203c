//! Files and their versions: row images. A version is never overwritten; its
//! content is the list of chunks in the chunk store (valv-blob).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use valv_domain::files::{FileName, Folder};
use valv_domain::{FileId, TenantId};

/// A file: its place and which version is current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRow {
    pub id: FileId,
    pub tenant_id: TenantId,
    pub folder: Folder,
    pub name: FileName,
    /// Number of the newest version (1-based).
    pub current_version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
}

/// One chunk of a version's content: keyed content address and plaintext length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredChunk {
    pub id: String,
    pub len: u32,
}

/// One immutable version of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileVersionRow {
    pub file_id: FileId,
    pub tenant_id: TenantId,
    pub version: u32,
    pub size: u64,
    /// SHA-256 of the whole content, hex.
    pub sha256: String,
    pub media_type: String,
    pub chunks: Vec<StoredChunk>,
    pub uploaded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded_at: OffsetDateTime,
    /// What the malware scan said, e.g. `clean (clamd)` or `not scanned`.
    pub scan: String,
}
