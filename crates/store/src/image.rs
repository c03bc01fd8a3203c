//! Rows as a store writes them: the image (sealed into the `image` column) and the
//! columns a table keeps beside it (key, owner, what queries use).
//!
//! A live change has typed rows and encodes their images. A restore replays
//! images shipped in journal payloads: those are taken as they are, and a
//! record — nearly every row a restore writes — has only its columns read,
//! not the whole row: the image was checked when the row was first written,
//! and it arrives sealed and hashed (DESIGN.md, The journal).

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use valv_domain::{CollectionId, RecordId, TenantId};

use crate::{KeyOwner, Row, RowKey, StoreResult, Table};

/// The columns a table keeps beside a row's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKeys {
    Tenant { id: String, slug: String },
    User { id: String, tenant_id: String, email_norm: String },
    Operator { id: String, email_norm: String },
    Token { id: String, tenant_id: String, user_id: String },
    Collection { id: String, tenant_id: String, name: String },
    Record { id: String, tenant_id: String, collection_id: String, deleted: bool },
    File { id: String, tenant_id: String, folder: String, name: String, deleted: bool },
    Request { id: String, tenant_id: String },
    FileVersion { file_id: String, version: u32, tenant_id: String, size: u64 },
}

impl RowKeys {
    /// The table and id of a row keyed by one id; `None` for file versions
    /// (keyed by file and number), which are never changed once written.
    #[must_use]
    pub fn locator(&self) -> Option<(&'static str, &str)> {
        Some(match self {
            Self::Tenant { id, .. } => ("tenants", id),
            Self::User { id, .. } => ("users", id),
            Self::Operator { id, .. } => ("operators", id),
            Self::Token { id, .. } => ("tokens", id),
            Self::Collection { id, .. } => ("collections", id),
            Self::Record { id, .. } => ("records", id),
            Self::File { id, .. } => ("files", id),
            Self::Request { id, .. } => ("requests", id),
            Self::FileVersion { .. } => return None,
        })
    }

    /// The table the row is stored in.
    #[must_use]
    pub const fn table(&self) -> Table {
        match self {
            Self::Tenant { .. } => Table::Tenants,
            Self::User { .. } => Table::Users,
            Self::Operator { .. } => Table::Operators,
            Self::Token { .. } => Table::Tokens,
            Self::Collection { .. } => Table::Collections,
            Self::Record { .. } => Table::Records,
            Self::File { .. } => Table::Files,
            Self::Request { .. } => Table::Requests,
            Self::FileVersion { .. } => Table::FileVersions,
        }
    }

    /// Whose key seals the row.
    ///
    /// # Errors
    /// `Corrupt` for a tenant id that does not parse.
    pub fn owner(&self) -> StoreResult<KeyOwner> {
        match self {
            Self::Tenant { .. } | Self::Operator { .. } => Ok(KeyOwner::Provider),
            Self::User { tenant_id, .. }
            | Self::Token { tenant_id, .. }
            | Self::Collection { tenant_id, .. }
            | Self::Record { tenant_id, .. }
            | Self::File { tenant_id, .. }
            | Self::Request { tenant_id, .. }
            | Self::FileVersion { tenant_id, .. } => KeyOwner::of_column(Some(tenant_id)),
        }
    }

    /// The columns of a typed row.
    #[must_use]
    pub fn of(row: &Row) -> Self {
        match row {
            Row::Tenant(t) => Self::Tenant { id: t.id.to_string(), slug: t.slug.as_str().to_owned() },
            Row::User(u) => Self::User {
                id: u.id.to_string(),
                tenant_id: u.tenant_id.to_string(),
                email_norm: u.email.normalized(),
            },
            Row::Operator(o) => Self::Operator { id: o.id.to_string(), email_norm: o.email.normalized() },
            Row::Token(k) => {
                Self::Token { id: k.id.to_string(), tenant_id: k.tenant_id.to_string(), user_id: k.user_id.to_string() }
            }
            Row::Collection(c) => {
                Self::Collection { id: c.id.to_string(), tenant_id: c.tenant_id.to_string(), name: c.name.clone() }
            }
            Row::Record(r) => Self::Record {
                id: r.id.to_string(),
                tenant_id: r.tenant_id.to_string(),
                collection_id: r.collection_id.to_string(),
                deleted: r.deleted_at.is_some(),
            },
            Row::File(f) => Self::File {
                id: f.id.to_string(),
                tenant_id: f.tenant_id.to_string(),
                folder: f.folder.as_str().to_owned(),
                name: f.name.as_str().to_owned(),
                deleted: f.deleted_at.is_some(),
            },
            Row::Request(q) => Self::Request { id: q.id.clone(), tenant_id: q.tenant_id.to_string() },
            Row::FileVersion(v) => Self::FileVersion {
                file_id: v.file_id.to_string(),
                version: v.version,
                tenant_id: v.tenant_id.to_string(),
                size: v.size,
            },
        }
    }

    /// What the row is known by in its table.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Tenant { id, .. }
            | Self::User { id, .. }
            | Self::Operator { id, .. }
            | Self::Token { id, .. }
            | Self::Collection { id, .. }
            | Self::Record { id, .. }
            | Self::File { id, .. }
            | Self::Request { id, .. } => id.clone(),
            Self::FileVersion { file_id, version, .. } => format!("{file_id}/{version}"),
        }
    }
}

/// A row ready to be written: its columns and its image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowImage {
    pub keys: RowKeys,
    /// The row as JSON, as the `image` column holds it once opened.
    pub json: String,
}

impl RowImage {
    /// Encodes a typed row.
    ///
    /// # Errors
    /// As [`Row::image`].
    pub fn new(row: &Row) -> serde_json::Result<Self> {
        Ok(Self { keys: RowKeys::of(row), json: row.image()? })
    }

    /// The image sealed for its place with its owner's key.
    #[must_use]
    pub fn sealed(&self, key: &RowKey) -> Vec<u8> {
        key.seal_row(self.keys.table(), &self.keys.key(), self.json.as_bytes())
    }

    /// Takes a shipped row image of the table tagged `table` as it is.
    ///
    /// # Errors
    /// An unknown table, or an image that is not a row of it.
    pub fn shipped(table: &str, image: &RawValue) -> serde_json::Result<Self> {
        let json = image.get();
        let Some(table) = Table::of_row_tag(table) else {
            return Err(serde::de::Error::custom(format!("unknown table `{table}`")));
        };
        let keys = match table {
            Table::Records => record_keys(json)?,
            Table::Tenants => RowKeys::of(&Row::Tenant(serde_json::from_str(json)?)),
            Table::Users => RowKeys::of(&Row::User(serde_json::from_str(json)?)),
            Table::Operators => RowKeys::of(&Row::Operator(serde_json::from_str(json)?)),
            Table::Tokens => RowKeys::of(&Row::Token(serde_json::from_str(json)?)),
            Table::Collections => RowKeys::of(&Row::Collection(serde_json::from_str(json)?)),
            Table::Files => RowKeys::of(&Row::File(serde_json::from_str(json)?)),
            Table::FileVersions => RowKeys::of(&Row::FileVersion(serde_json::from_str(json)?)),
            Table::Requests => RowKeys::of(&Row::Request(serde_json::from_str(json)?)),
            Table::Sessions => return Err(serde::de::Error::custom("sessions are never shipped")),
        };
        Ok(Self { keys, json: json.to_owned() })
    }
}

/// A record's columns, read from its image without the rest of it.
fn record_keys(json: &str) -> serde_json::Result<RowKeys> {
    #[derive(Deserialize)]
    struct Columns {
        id: RecordId,
        tenant_id: TenantId,
        collection_id: CollectionId,
        // Present and not null once deleted (an RFC 3339 instant).
        deleted_at: Option<IgnoredAny>,
    }
    let c: Columns = serde_json::from_str(json)?;
    Ok(RowKeys::Record {
        id: c.id.to_string(),
        tenant_id: c.tenant_id.to_string(),
        collection_id: c.collection_id.to_string(),
        deleted: c.deleted_at.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::RecordRow;

    fn record(deleted: bool) -> Row {
        Row::Record(RecordRow {
            id: RecordId::new(),
            tenant_id: TenantId::new(),
            collection_id: CollectionId::new(),
            revision: 3,
            data: serde_json::json!({ "name": "Åsa \"quoted\"", "n": 1.5, "deleted_at": "not the column" }),
            deleted_at: deleted.then_some(datetime!(2026-11-24 10:00 UTC)),
            created_at: datetime!(2026-11-24 09:00 UTC),
            created_by: "user:x".into(),
            updated_at: datetime!(2026-11-24 09:30 UTC),
            updated_by: "user:x".into(),
        })
    }

    fn shipped(table: &str, json: &str) -> serde_json::Result<RowImage> {
        RowImage::shipped(table, &RawValue::from_string(json.to_owned())?)
    }

    #[test]
    fn a_shipped_record_has_the_columns_and_image_of_the_typed_one() {
        for deleted in [false, true] {
            let row = record(deleted);
            let typed = RowImage::new(&row).expect("encode");
            assert_eq!(shipped("record", &typed.json).expect("shipped"), typed, "deleted: {deleted}");
            assert!(matches!(typed.keys, RowKeys::Record { deleted: d, .. } if d == deleted));
        }
    }

    #[test]
    fn a_shipped_image_of_an_unknown_table_or_not_a_row_is_refused() {
        let json = RowImage::new(&record(false)).expect("encode").json;
        assert!(shipped("nope", &json).is_err(), "unknown table");
        assert!(shipped("tenant", &json).is_err(), "a record is not a tenant");
        assert!(shipped("record", r#"{"id":"x","tenant_id":"y","collection_id":"z"}"#).is_err(), "bad ids");
    }
}
