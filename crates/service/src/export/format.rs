//! The export format, version 1 (documented by `docs/export.schema.json`):
//! an uncompressed POSIX tar holding every file version's bytes at
//! `files/<file id>/<version>`, then `export.json`, and last `manifest.json`
//! with the SHA-256 of every other part (readers accept any order before it). Never any secret: no password hashes, TOTP secrets,
//! recovery codes, tokens or keys.

use serde::{Deserialize, Serialize};
use valv_domain::schema::FieldDef;

pub const FORMAT: &str = "valv-export";
pub const VERSION: u32 = 1;

/// The head of `export.json` (the lists follow as their own keys).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportTenant {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub status: String,
    pub require_second_factor: bool,
    pub terminated_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub role: String,
    pub status: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportCollection {
    pub id: String,
    pub name: String,
    pub fields: Vec<FieldDef>,
    pub data_subject: bool,
    #[serde(default)]
    pub processing: valv_store::Processing,
    pub created_at: String,
}

/// A record with every revision, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub id: String,
    pub collection: String,
    pub created_at: String,
    pub created_by: String,
    pub revisions: Vec<ExportRevision>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRevision {
    pub revision: u64,
    pub at: String,
    pub by: String,
    pub data: serde_json::Value,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFile {
    pub id: String,
    pub folder: String,
    pub name: String,
    pub created_at: String,
    pub created_by: String,
    /// Deleted files are exported too: their versions are kept.
    #[serde(default)]
    pub deleted_at: Option<String>,
    pub versions: Vec<ExportVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportVersion {
    pub version: u32,
    pub size: u64,
    pub sha256: String,
    pub media_type: String,
    pub uploaded_by: String,
    pub uploaded_at: String,
    /// Where the bytes are in the archive.
    pub path: String,
}

/// One journal entry, without its payload (which holds row images).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportEntry {
    pub chain_seq: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub payload_hash: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<&valv_store::JournalEntry> for ExportEntry {
    fn from(e: &valv_store::JournalEntry) -> Self {
        Self {
            chain_seq: e.chain_seq,
            at: e.at.clone(),
            actor: e.actor.clone(),
            action: e.action.clone(),
            entity: e.entity.clone(),
            entity_id: e.entity_id.clone(),
            payload_hash: e.payload_hash.clone(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }
}

/// `manifest.json`: SHA-256 (hex) of every other part, by path.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportManifest {
    pub format: String,
    pub version: u32,
    pub parts: std::collections::BTreeMap<String, String>,
}
