//! The erasure ledger's entry, one type for both sides: erasure writes it
//! (`erase.rs`) and every restore reads it back to erase again
//! (`reapply.rs`, GDPR Art. 17: an erased person must not come back from a
//! backup). Ids and field names only, never the erased data. The reading
//! side is strict: an entry that is not exactly this shape is an error, not
//! an erasure silently skipped.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What kind of thing an erased item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasedKind {
    User,
    Record,
    File,
    /// A data-subject request the subject filed: its free-text message.
    Request,
}

/// One erased item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Erased {
    pub kind: ErasedKind,
    pub id: String,
    /// The record's collection.
    pub collection: Option<String>,
    /// Fields whose values were removed.
    pub fields: Vec<String>,
}

/// One erasure, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LedgerEntry {
    pub id: String,
    pub tenant: String,
    pub at: String,
    /// The `(entity, id)` pairs whose journal payloads were blanked.
    pub entities: Vec<(String, String)>,
    pub erased: Vec<Erased>,
    /// Ids of the records that were about the subject (deleted, not only redacted).
    pub subjects: Vec<String>,
    /// Ids of the items kept (legal hold, retention, the requests as a record
    /// of their answer), listed in the receipt with the reason.
    pub kept: Vec<String>,
}

impl LedgerEntry {
    /// The entry as the store keeps it.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Reads a stored entry back.
    ///
    /// # Errors
    /// When the stored JSON is not exactly an entry.
    pub(crate) fn from_json(v: &serde_json::Value) -> serde_json::Result<Self> {
        Self::deserialize(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> LedgerEntry {
        LedgerEntry {
            id: "erasure-1".into(),
            tenant: "t".into(),
            at: "2026-12-02T08:00:00Z".into(),
            entities: vec![("record".into(), "r".into()), ("user".into(), "u".into())],
            erased: vec![
                Erased {
                    kind: ErasedKind::Record,
                    id: "r".into(),
                    collection: Some("contacts".into()),
                    fields: vec!["name".into()],
                },
                Erased { kind: ErasedKind::User, id: "u".into(), collection: None, fields: vec!["email".into()] },
            ],
            subjects: vec!["r".into()],
            kept: vec!["held".into()],
        }
    }

    #[test]
    fn an_entry_reads_back_as_written_and_kinds_are_stored_as_words() {
        let json = entry().to_json();
        assert_eq!(json["erased"][1]["kind"], "user");
        assert_eq!(LedgerEntry::from_json(&json).expect("reads"), entry());
    }

    #[test]
    fn an_entry_missing_a_field_or_with_an_unknown_kind_is_refused() {
        for field in ["entities", "erased", "subjects", "kept", "at"] {
            let mut json = entry().to_json();
            json.as_object_mut().expect("object").remove(field);
            assert!(LedgerEntry::from_json(&json).is_err(), "without {field}");
        }
        let mut json = entry().to_json();
        json["erased"][0]["kind"] = "collection".into();
        assert!(LedgerEntry::from_json(&json).is_err(), "an unknown kind");
    }
}
