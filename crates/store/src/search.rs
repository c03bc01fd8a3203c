//! Record search over sealed rows (DESIGN.md, Sealed at rest). A record's
//! image is sealed; beside it a `search` column holds, per field that can
//! be looked up, either a blind index (fields marked personal: equality
//! only, the value never stored) or the clear value (references and files:
//! ids of other rows, which reveal no content; and the fields the
//! collection's owner marks `searchable`, knowing they stay in clear). Every other field is
//! matched and sorted after opening the rows, in [`finish`], so the API
//! answers every query it answered before; a query the column answers
//! exactly runs in SQL alone.

use std::cmp::Ordering;

use serde_json::{Map, Value};
use valv_domain::schema::{FieldDef, FieldType};

use crate::vault::RowKey;
use crate::{Filter, Op, RecordQuery, RecordRow};

/// How a field is held in the `search` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// A blind index of the normalised value.
    Blind,
    /// The value itself.
    Clear,
}

/// The fields of a collection the `search` column holds, and how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan(Vec<(String, Held)>);

impl Plan {
    /// The plan of a collection with `fields`.
    #[must_use]
    pub fn of(fields: &[FieldDef]) -> Self {
        Self(
            fields
                .iter()
                .filter_map(|f| match (&f.kind, f.personal) {
                    (_, Some(_)) => Some((f.name.clone(), Held::Blind)),
                    (FieldType::Reference { .. } | FieldType::File, None) => Some((f.name.clone(), Held::Clear)),
                    _ if f.searchable => Some((f.name.clone(), Held::Clear)),
                    _ => None,
                })
                .collect(),
        )
    }

    /// The fields the column holds: what a backend indexes.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(f, _)| f.as_str())
    }

    fn held(&self, field: &str) -> Option<Held> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, h)| *h)
    }

    /// The `search` column of a record holding `data`, as JSON text.
    #[must_use]
    pub fn column(&self, data: &Value, key: &RowKey) -> String {
        let mut out = Map::new();
        for (field, held) in &self.0 {
            let Some(v) = data.get(field).filter(|v| !v.is_null()) else { continue };
            let stored = match held {
                Held::Clear => v.clone(),
                Held::Blind => Value::from(blind(key, field, v)),
            };
            out.insert(field.clone(), stored);
        }
        Value::Object(out).to_string()
    }

    /// What of `q` the `search` column answers.
    #[must_use]
    pub fn split(&self, q: &RecordQuery, key: &RowKey) -> Split {
        let mut split = Split { filters: Vec::new(), exact: true };
        for f in &q.filters {
            match (self.held(&f.field), f.op) {
                (Some(Held::Clear), _) => split.filters.push(f.clone()),
                (Some(Held::Blind), Op::Eq | Op::EqNoCase) if !f.value.is_null() => {
                    // The index folds case: an exact `Eq` on text is checked again after opening.
                    split.exact &= f.op == Op::EqNoCase || !f.value.is_string();
                    let value = Value::from(blind(key, &f.field, &f.value));
                    split.filters.push(Filter { field: f.field.clone(), op: Op::Eq, value });
                }
                _ => split.exact = false,
            }
        }
        let sorted_in_sql = q.sort.as_ref().is_none_or(|(field, _)| self.held(field) == Some(Held::Clear));
        split.exact &= sorted_in_sql;
        split
    }
}

/// The part of a record query the `search` column answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Filters on the `search` column (blind values already blinded).
    pub filters: Vec<Filter>,
    /// Whether these filters, the sort and the cursor are the whole query:
    /// then SQL pages and sorts alone; else SQL narrows, by id, without a
    /// limit, and [`finish`] does the rest on the opened rows.
    pub exact: bool,
}

/// A blind index of a field's value: case folded, as people look up
/// e-mail addresses and names.
fn blind(key: &RowKey, field: &str, v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string(),
    };
    key.blind(&format!("field:{field}"), &text)
}

/// A field value as the query compares it: numbers (booleans as 0 and 1)
/// before text, objects and arrays as their JSON text — as SQL compares
/// what `json_extract` yields.
#[derive(Debug, PartialEq)]
enum Scalar {
    Number(f64),
    Text(String),
}

fn scalar(v: &Value) -> Option<Scalar> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => Scalar::Number(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => Scalar::Number(n.as_f64().unwrap_or_default()),
        Value::String(s) => Scalar::Text(s.clone()),
        other => Scalar::Text(other.to_string()),
    })
}

fn compare(a: &Scalar, b: &Scalar) -> Ordering {
    match (a, b) {
        (Scalar::Number(x), Scalar::Number(y)) => x.total_cmp(y),
        (Scalar::Number(_), Scalar::Text(_)) => Ordering::Less,
        (Scalar::Text(_), Scalar::Number(_)) => Ordering::Greater,
        (Scalar::Text(x), Scalar::Text(y)) => x.cmp(y),
    }
}

/// Whether `row` passes `f` (a missing or null field passes no filter).
#[must_use]
pub fn matches(row: &RecordRow, f: &Filter) -> bool {
    let (Some(have), Some(want)) = (row.data.get(&f.field).and_then(scalar), scalar(&f.value)) else {
        return false;
    };
    if f.op == Op::EqNoCase {
        return match (&have, &want) {
            (Scalar::Text(a), Scalar::Text(b)) => a.to_lowercase() == b.to_lowercase(),
            _ => have == want,
        };
    }
    let o = compare(&have, &want);
    match f.op {
        Op::Eq | Op::EqNoCase => o == Ordering::Equal,
        Op::Ne => o != Ordering::Equal,
        Op::Lt => o == Ordering::Less,
        Op::Lte => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::Gte => o != Ordering::Less,
    }
}

/// The value a row is sorted by: a missing field sorts as empty text.
fn sort_key(row: &RecordRow, field: &str) -> Scalar {
    row.data.get(field).and_then(scalar).unwrap_or(Scalar::Text(String::new()))
}

/// The page of `q` among `rows` (opened, in any order): filtered, sorted
/// (ties by id), after the cursor, at most `limit`.
#[must_use]
pub fn finish(rows: Vec<RecordRow>, q: &RecordQuery) -> Vec<RecordRow> {
    let mut rows: Vec<RecordRow> = rows
        .into_iter()
        .filter(|r| (q.include_deleted || r.deleted_at.is_none()) && q.filters.iter().all(|f| matches(r, f)))
        .collect();
    let desc = q.sort.as_ref().is_some_and(|(_, d)| *d);
    let order = |a: &RecordRow, b: &RecordRow| {
        let by_key = q.sort.as_ref().map_or(Ordering::Equal, |(f, _)| compare(&sort_key(a, f), &sort_key(b, f)));
        let o = by_key.then_with(|| a.id.to_string().cmp(&b.id.to_string()));
        if desc { o.reverse() } else { o }
    };
    rows.sort_by(order);
    if let Some((value, id)) = &q.after {
        let after_key = scalar(value).unwrap_or(Scalar::Text(String::new()));
        let id = id.to_string();
        rows.retain(|r| {
            let by_key = q.sort.as_ref().map_or(Ordering::Equal, |(f, _)| compare(&sort_key(r, f), &after_key));
            let o = by_key.then_with(|| r.id.to_string().cmp(&id));
            if desc { o == Ordering::Less } else { o == Ordering::Greater }
        });
    }
    rows.truncate(q.limit as usize);
    rows
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use valv_crypto::seal::Key;
    use valv_domain::{CollectionId, RecordId, TenantId};

    use super::*;
    use crate::vault::KeyOwner;

    fn fields() -> Vec<FieldDef> {
        serde_json::from_value(serde_json::json!([
            { "name": "email", "type": "email", "personal": "contact" },
            { "name": "owner", "type": "reference", "collection": "people" },
            { "name": "notes", "type": "text" },
            { "name": "n", "type": "number" },
            { "name": "status", "type": "enum", "values": ["open", "done"], "searchable": true }
        ]))
        .expect("fields")
    }

    fn key() -> RowKey {
        RowKey::new(KeyOwner::Tenant(TenantId::new()), &Key::from_bytes([1; 32]))
    }

    fn record(data: Value) -> RecordRow {
        let at = time::OffsetDateTime::UNIX_EPOCH;
        RecordRow {
            id: RecordId::new(),
            tenant_id: TenantId::new(),
            collection_id: CollectionId::new(),
            revision: 1,
            data,
            deleted_at: None,
            created_at: at,
            created_by: "cli".into(),
            updated_at: at,
            updated_by: "cli".into(),
        }
    }

    #[test]
    fn the_column_holds_blind_personal_values_clear_ids_and_nothing_else() {
        let (plan, k) = (Plan::of(&fields()), key());
        let data = serde_json::json!({ "email": "Canary@x.se", "owner": "r1", "notes": "canary notes", "n": 3 });
        let column = plan.column(&data, &k);
        assert!(!column.to_lowercase().contains("canary"), "no content in clear: {column}");
        assert!(column.contains("\"owner\":\"r1\""), "{column}");
        let marked = plan.column(&serde_json::json!({ "status": "open" }), &k);
        assert_eq!(marked, r#"{"status":"open"}"#, "a field marked searchable is kept in clear");
        assert_eq!(column, plan.column(&serde_json::json!({ "email": "canary@X.se", "owner": "r1" }), &k));
    }

    #[test]
    fn a_query_runs_in_sql_alone_only_when_the_column_answers_it_exactly() {
        let (plan, k) = (Plan::of(&fields()), key());
        let q = |field: &str, op, sort: Option<&str>| RecordQuery {
            filters: vec![Filter { field: field.into(), op, value: Value::from("A@x.se") }],
            sort: sort.map(|s| (s.to_owned(), false)),
            limit: 10,
            ..RecordQuery::default()
        };
        assert!(plan.split(&q("email", Op::EqNoCase, None), &k).exact);
        assert!(plan.split(&q("owner", Op::Eq, Some("owner")), &k).exact);
        assert!(plan.split(&q("status", Op::Lt, Some("status")), &k).exact, "searchable: ranges and sorts in SQL");
        assert!(!plan.split(&q("email", Op::Eq, None), &k).exact, "case is checked after opening");
        assert!(!plan.split(&q("notes", Op::Eq, None), &k).exact);
        assert!(!plan.split(&q("owner", Op::Eq, Some("n")), &k).exact, "sorted after opening");
        let split = plan.split(&q("email", Op::Lt, None), &k);
        assert!(split.filters.is_empty() && !split.exact, "a range on a blind index is not narrowed");
    }

    proptest! {
        /// Paging through `finish` with its own cursor yields every match once, in order.
        #[test]
        fn paging_in_memory_visits_every_match_once(
            values in proptest::collection::vec(proptest::option::of(0i64..5), 0..30),
            limit in 1u32..7,
            desc: bool,
        ) {
            let rows: Vec<RecordRow> = values.iter().map(|v| record(serde_json::json!({ "n": v }))).collect();
            let mut q = RecordQuery { sort: Some(("n".into(), desc)), limit, ..RecordQuery::default() };
            q.filters.push(Filter { field: "n".into(), op: Op::Gte, value: Value::from(1) });
            let mut seen = Vec::new();
            loop {
                let page = finish(rows.clone(), &q);
                let Some(last) = page.last() else { break };
                q.after = Some((last.data["n"].clone(), last.id));
                let full = page.len() == limit as usize;
                seen.extend(page);
                if !full { break; }
            }
            let expected = values.iter().filter(|v| v.is_some_and(|n| n >= 1)).count();
            prop_assert_eq!(seen.len(), expected);
            let keys: Vec<i64> = seen.iter().map(|r| r.data["n"].as_i64().unwrap_or_default()).collect();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            if desc { sorted.reverse(); }
            prop_assert_eq!(keys, sorted);
        }
    }
}
