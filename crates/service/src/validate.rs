//! Checks record data against its collection's fields, with one error per
//! field. References are returned for the caller to look up, since their
//! existence is a question for the store.

use serde_json::{Map, Value};
use valv_domain::schema::{FieldDef, FieldType};
use valv_domain::{Email, FileId, Phone, RecordId};

use crate::FieldError;

/// Deepest nesting a JSON value may have.
pub const MAX_DEPTH: usize = 32;
/// Largest serialized record.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;

/// A reference found in valid data, for the caller to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `field` names record `id` of `collection`.
    Record { field: String, collection: String, id: RecordId },
    /// `field` names file `id`.
    File { field: String, id: FileId },
}

fn err(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.to_owned(), code: code.to_owned(), message: message.into() }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Validates `data` (a whole record) against `fields`.
///
/// # Errors
/// Every refused field.
pub fn record(fields: &[FieldDef], data: &Value) -> Result<Vec<Reference>, Vec<FieldError>> {
    let Some(obj) = data.as_object() else {
        return Err(vec![err("data", "invalid_type", "a record is a JSON object of field values")]);
    };
    if depth(data) > MAX_DEPTH {
        return Err(vec![err("data", "too_deep", format!("values may nest at most {MAX_DEPTH} levels"))]);
    }
    if data.to_string().len() > MAX_RECORD_BYTES {
        return Err(vec![err("data", "too_large", "a record may hold at most 256 KiB of JSON")]);
    }
    let mut errors = Vec::new();
    let mut refs = Vec::new();
    for key in obj.keys() {
        if !fields.iter().any(|f| &f.name == key) {
            errors.push(err(key, "unknown_field", format!("{key} is not a field of this collection")));
        }
    }
    for f in fields {
        match obj.get(&f.name) {
            None | Some(Value::Null) if f.required => {
                errors.push(err(&f.name, "required", format!("{} is required", f.name)))
            }
            None | Some(Value::Null) => {}
            Some(v) => match value(f, v) {
                Ok(Some(r)) => refs.push(r),
                Ok(None) => {}
                Err(e) => errors.push(e),
            },
        }
    }
    if errors.is_empty() { Ok(refs) } else { Err(errors) }
}

fn value(f: &FieldDef, v: &Value) -> Result<Option<Reference>, FieldError> {
    let name = f.name.as_str();
    let wrong = |what: &str| err(name, "invalid_type", format!("{name} must be {what}"));
    let text = || v.as_str().ok_or_else(|| wrong("a string"));
    match &f.kind {
        FieldType::Text => text().map(drop)?,
        FieldType::Number => v.as_f64().map(drop).ok_or_else(|| wrong("a number"))?,
        FieldType::Bool => v.as_bool().map(drop).ok_or_else(|| wrong("true or false"))?,
        FieldType::Date => {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(text()?, &fmt).map_err(|_| wrong("a date YYYY-MM-DD"))?;
        }
        FieldType::Datetime => valv_domain::parse_stamp(text()?).map(drop).map_err(|_| wrong("an RFC 3339 instant"))?,
        FieldType::Email => Email::parse(text()?).map(drop).map_err(|_| wrong("an e-mail address"))?,
        FieldType::Phone => Phone::parse(text()?).map(drop).map_err(|_| wrong("a phone number in E.164 form"))?,
        FieldType::Enum { values } => {
            let s = text()?;
            if !values.iter().any(|x| x == s) {
                return Err(err(name, "invalid_value", format!("{name} must be one of {}", values.join(", "))));
            }
        }
        FieldType::Json => {}
        FieldType::Reference { collection } => {
            let id = RecordId::parse(text()?).map_err(|_| wrong("a record id"))?;
            return Ok(Some(Reference::Record { field: name.to_owned(), collection: collection.clone(), id }));
        }
        FieldType::File => {
            let id = FileId::parse(text()?).map_err(|_| wrong("a file id"))?;
            return Ok(Some(Reference::File { field: name.to_owned(), id }));
        }
    }
    Ok(None)
}

/// Applies a JSON merge patch of top-level fields (RFC 7396, one level):
/// a field set to `null` is removed.
#[must_use]
pub fn merge(current: &Value, patch: &Map<String, Value>) -> Value {
    let mut out = current.as_object().cloned().unwrap_or_default();
    for (k, v) in patch {
        if v.is_null() {
            out.remove(k);
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields() -> Vec<FieldDef> {
        serde_json::from_value(json!([
            { "name": "name", "type": "text", "required": true },
            { "name": "age", "type": "number" },
            { "name": "email", "type": "email", "personal": "contact" },
            { "name": "kind", "type": "enum", "values": ["a", "b"] },
            { "name": "born", "type": "date" },
            { "name": "boss", "type": "reference", "collection": "people" },
        ]))
        .unwrap()
    }

    #[test]
    fn every_wrong_field_is_named() {
        let e =
            record(&fields(), &json!({ "age": "x", "email": "nope", "kind": "c", "born": "2024-13-01", "extra": 1 }))
                .unwrap_err();
        let got: Vec<(&str, &str)> = e.iter().map(|f| (f.field.as_str(), f.code.as_str())).collect();
        assert_eq!(
            got,
            [
                ("extra", "unknown_field"),
                ("name", "required"),
                ("age", "invalid_type"),
                ("email", "invalid_type"),
                ("kind", "invalid_value"),
                ("born", "invalid_type")
            ]
        );
    }

    #[test]
    fn valid_data_yields_its_references() {
        let id = RecordId::new();
        let refs = record(&fields(), &json!({ "name": "Ada", "age": 36, "boss": id.to_string() })).unwrap();
        assert_eq!(refs, vec![Reference::Record { field: "boss".to_owned(), collection: "people".to_owned(), id }]);
    }

    #[test]
    fn deep_nesting_and_non_objects_are_refused() {
        let mut deep = json!(1);
        for _ in 0..40 {
            deep = json!([deep]);
        }
        assert_eq!(record(&fields(), &json!({ "name": "x", "deep": deep })).unwrap_err()[0].code, "too_deep");
        assert_eq!(record(&fields(), &json!([1])).unwrap_err()[0].code, "invalid_type");
    }

    #[test]
    fn merge_sets_and_removes_top_level_fields() {
        let m = merge(&json!({ "a": 1, "b": 2 }), json!({ "b": null, "c": 3 }).as_object().unwrap());
        assert_eq!(m, json!({ "a": 1, "c": 3 }));
    }

    /// Arbitrary JSON: any value of any shape.
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "\\PC{0,20}".prop_map(Value::from),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Fuzzing the record validator (review, beyond the findings): any
        /// JSON body is refused with named fields or accepted, never a
        /// panic; what is accepted is accepted again, merged with itself.
        #[test]
        fn any_record_body_is_judged_without_panicking(body in json_value()) {
            if record(&fields(), &body).is_ok() {
                let again = merge(&body, body.as_object().expect("an accepted record is an object"));
                proptest::prop_assert!(record(&fields(), &again).is_ok());
            }
        }
    }
}
