//! Collections and records: row images and the query a record list takes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use valv_domain::schema::FieldDef;
use valv_domain::{CollectionId, RecordId, TenantId};

/// A tenant's record type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionRow {
    pub id: CollectionId,
    pub tenant_id: TenantId,
    pub name: String,
    pub fields: Vec<FieldDef>,
    /// Each record is about one data subject (e.g. `contacts`).
    pub data_subject: bool,
    /// What GDPR Art. 13-15 and Art. 30 ask about this store of data.
    #[serde(default)]
    pub processing: Processing,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The processing of a collection's data (GDPR Art. 30(1) register entries;
/// Art. 15(1)(a)-(g) information for a data subject).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Processing {
    #[serde(default)]
    pub purpose: String,
    /// Art. 6(1) basis, e.g. `contract`, `consent`, `legal obligation`.
    #[serde(default)]
    pub legal_basis: String,
    /// How long the data is kept, in words (retention is enforced elsewhere).
    #[serde(default)]
    pub retention: String,
    /// Who receives the data (processors, authorities).
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Where the data comes from when not from the subject (Art. 14, 15(1)(g)).
    #[serde(default)]
    pub source: String,
    /// Why records are kept even when their subject asks for erasure (Art. 17(3)),
    /// e.g. "bookkeeping, 7 years (Bokföringslagen 7:2)"; empty: no hold.
    #[serde(default)]
    pub legal_hold: String,
}

/// One record at its current revision. Earlier revisions are its journal entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordRow {
    pub id: RecordId,
    pub tenant_id: TenantId,
    pub collection_id: CollectionId,
    /// 1 at creation, +1 at every change (the ETag).
    pub revision: u64,
    /// The field values, a JSON object valid against the collection.
    pub data: serde_json::Value,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub updated_by: String,
}

/// A comparison in a record filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    /// Equal, ignoring ASCII case (e-mail addresses).
    EqNoCase,
}

impl Op {
    /// The SQL operator.
    #[must_use]
    pub const fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::EqNoCase => "= LOWER",
        }
    }
}

/// `field op value`, on a field the collection defines.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub field: String,
    pub op: Op,
    pub value: serde_json::Value,
}

/// Which records of a collection, in which order, from where.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordQuery {
    pub filters: Vec<Filter>,
    /// Field to sort by and whether descending; by id (creation order) when absent.
    pub sort: Option<(String, bool)>,
    /// Continue after this (sort value, record id).
    pub after: Option<(serde_json::Value, RecordId)>,
    pub limit: u32,
    /// Include soft-deleted records.
    pub include_deleted: bool,
}
