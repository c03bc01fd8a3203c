//! Record revisions for `export.json`, rendered straight from the journal's
//! row images: each payload is read in place (field values are copied as the
//! JSON text they are stored as, never parsed into a tree), because an export
//! renders every revision of every record and allocation would dominate.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use valv_domain::{RecordId, stamp};
use valv_store::HistoryItem;

/// The rows a journal payload carries, each still as JSON text.
#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    rows: Vec<Tagged<'a>>,
}

#[derive(Deserialize)]
struct Tagged<'a> {
    #[serde(borrow)]
    table: Cow<'a, str>,
    #[serde(borrow)]
    row: &'a RawValue,
}

/// The parts of a record's row image an export needs.
#[derive(Deserialize)]
struct Image<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    revision: u64,
    #[serde(borrow)]
    data: &'a RawValue,
    #[serde(borrow)]
    deleted_at: Option<&'a RawValue>,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: time::OffsetDateTime,
    #[serde(borrow)]
    updated_by: Cow<'a, str>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(borrow)]
    created_by: Cow<'a, str>,
}

/// One revision as `export.json` holds it (see `format::ExportRevision`).
#[derive(Serialize)]
struct Revision<'a> {
    revision: u64,
    at: String,
    by: &'a str,
    data: &'a RawValue,
    deleted: bool,
}

/// A record's revisions as the JSON list `export.json` holds, and its
/// creation as its newest entry's image shows it: a record's row is its
/// newest image, so the export need not read the row. `None` when that
/// entry's payload was erased or holds no image of the record (then the
/// caller reads the row).
#[derive(Default)]
pub(super) struct Rendered<'a> {
    pub(super) revisions: Vec<u8>,
    pub(super) created: Option<(time::OffsetDateTime, Cow<'a, str>)>,
}

/// The revisions of each record in `entries` (a page's histories, each
/// record's oldest first). Entries whose payload was erased or carries no
/// image of the record are skipped, as they are when a record's history is read.
pub(super) fn render(entries: &[HistoryItem]) -> serde_json::Result<HashMap<&str, Rendered<'_>>> {
    let mut out: HashMap<&str, Rendered<'_>> = HashMap::new();
    for e in entries {
        let rendered = out.entry(e.entity_id.as_str()).or_default();
        rendered.created = None;
        let Some(payload) = e.payload.as_deref() else { continue };
        let Ok(p) = serde_json::from_slice::<Payload<'_>>(payload) else { continue };
        let Ok(id) = RecordId::parse(&e.entity_id) else { continue };
        for row in p.rows.iter().filter(|r| r.table == "record") {
            let img: Image<'_> = serde_json::from_str(row.row.get())?;
            if RecordId::parse(&img.id).ok() != Some(id) {
                continue;
            }
            let list = &mut rendered.revisions;
            list.push(if list.is_empty() { b'[' } else { b',' });
            let revision = Revision {
                revision: img.revision,
                at: stamp(img.updated_at),
                by: &img.updated_by,
                data: img.data,
                // `null` reads as `None`.
                deleted: img.deleted_at.is_some(),
            };
            serde_json::to_writer(&mut *list, &revision)?;
            rendered.created = Some((img.created_at, img.created_by));
        }
    }
    for r in out.values_mut() {
        if r.revisions.is_empty() {
            r.revisions.extend_from_slice(b"[]");
        } else {
            r.revisions.push(b']');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;
    use serde_json::{Value, json};
    use time::OffsetDateTime;
    use valv_domain::{CollectionId, TenantId};
    use valv_store::{Actor, Chain, Change, RecordRow, Row};

    use super::*;
    use crate::export::format::ExportRevision;

    fn entry(change: &Change, entity_id: &str, erased: bool) -> HistoryItem {
        HistoryItem { entity_id: entity_id.into(), chain_seq: 1, payload: (!erased).then(|| change.payload()) }
    }

    fn record(id: RecordId, revision: u64, data: Value, at: OffsetDateTime, deleted: bool, by: &str) -> RecordRow {
        RecordRow {
            id,
            tenant_id: TenantId::new(),
            collection_id: CollectionId::new(),
            revision,
            data,
            deleted_at: deleted.then_some(at),
            created_at: at,
            created_by: "user:creator".into(),
            updated_at: at,
            updated_by: by.into(),
        }
    }

    /// Field values with the JSON text shapes that need care: escapes,
    /// non-ASCII, numbers of every kind, nesting and nulls.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".*".prop_map(Value::from),
        ];
        leaf.prop_recursive(2, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("[a-zé\"\\\\]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Rendering from the payload text gives exactly what parsing every
        /// image into a record row and serializing the revision gives.
        #[test]
        fn revisions_render_as_the_row_images_say(
            revisions in proptest::collection::vec((value(), any::<bool>(), 0i64..4_000_000_000, 0u32..1_000_000_000, ".{0,12}", any::<bool>()), 1..5),
        ) {
            let id = RecordId::new();
            let other = RecordId::new();
            let mut entries = Vec::new();
            let mut expected = Vec::new();
            let mut created = None;
            for (n, (data, deleted, secs, nanos, by, erased)) in revisions.into_iter().enumerate() {
                let at = OffsetDateTime::from_unix_timestamp(secs).unwrap() + time::Duration::nanoseconds(nanos.into());
                let row = record(id, n as u64 + 1, json!({ "f": data }), at, deleted, &by);
                // Another record's image in the same change must not be taken.
                let change = Change::new(Chain::Tenant(row.tenant_id), at, Actor::System, valv_store::Action::RecordUpdated)
                    .row(Row::Record(record(other, 9, json!({ "f": "other" }), at, false, "x")))
                    .row(Row::Record(row.clone()));
                entries.push(entry(&change, &id.to_string(), erased));
                // The creation is taken from the newest entry only.
                created = (!erased).then(|| (at, Cow::from("user:creator")));
                if !erased {
                    let img = entries.last().unwrap().record_image(id).unwrap();
                    expected.push(ExportRevision {
                        revision: img.revision,
                        at: stamp(img.updated_at),
                        by: img.updated_by,
                        data: img.data,
                        deleted: img.deleted_at.is_some(),
                    });
                }
            }
            let lists = render(&entries).unwrap();
            let id = id.to_string();
            let rendered = lists.get(id.as_str()).unwrap();
            let got: Vec<ExportRevision> = serde_json::from_slice(&rendered.revisions).unwrap();
            prop_assert_eq!(got, expected);
            prop_assert_eq!(&rendered.created, &created);
            prop_assert_eq!(lists.len(), 1, "only the record asked for");
        }
    }
}
