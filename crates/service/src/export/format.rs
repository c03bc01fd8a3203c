//! The export format, version 1 (documented by `docs/export.schema.json`):
//! an uncompressed POSIX tar holding every file version's bytes at
//! `files/<file id>/<version>`, then `export.json`, and last `manifest.json`
//! with the SHA-256 of every other part (readers accept any order before it). Never any secret: no password hashes, TOTP secrets,
//! recovery codes, tokens or keys.

use std::borrow::Cow;

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

/// One journal entry, without its payload (which holds row images). Borrowed
/// when written (an export writes every entry of the chain), owned when read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportEntry<'a> {
    pub chain_seq: u64,
    pub at: Cow<'a, str>,
    pub actor: Cow<'a, str>,
    pub action: Cow<'a, str>,
    pub entity: Cow<'a, str>,
    pub entity_id: Cow<'a, str>,
    pub payload_hash: Cow<'a, str>,
    pub prev_hash: Cow<'a, str>,
    pub hash: Cow<'a, str>,
}

impl<'a> From<&'a valv_store::JournalEntry> for ExportEntry<'a> {
    fn from(e: &'a valv_store::JournalEntry) -> Self {
        Self {
            chain_seq: e.chain_seq,
            at: Cow::Borrowed(&e.at),
            actor: Cow::Borrowed(&e.actor),
            action: Cow::Borrowed(&e.action),
            entity: Cow::Borrowed(&e.entity),
            entity_id: Cow::Borrowed(&e.entity_id),
            payload_hash: Cow::Borrowed(&e.payload_hash),
            prev_hash: Cow::Borrowed(&e.prev_hash),
            hash: Cow::Borrowed(&e.hash),
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
