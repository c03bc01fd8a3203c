//! A collection's fields as form inputs and back. Each field type gets the
//! input a browser knows (number, date, e-mail, a list for enums); what was
//! typed goes to the service as JSON of the field's type, and the service's
//! validation says what is wrong, field by field. Inputs are named
//! `f.<field>` so no field can collide with the form's own names.

use serde_json::{Map, Value};
use valv_domain::schema::{FieldDef, FieldType};

use crate::i18n::Tr;
use crate::page::FieldErrors;

/// One input of a record form.
pub(crate) struct Input {
    pub(crate) name: String,
    pub(crate) id: String,
    /// The HTML input type, or `select`, `textarea`, `checkbox`.
    pub(crate) kind: &'static str,
    pub(crate) value: String,
    pub(crate) options: Vec<String>,
    pub(crate) required: bool,
    pub(crate) error: Option<String>,
}

impl Input {
    pub(crate) fn checked(&self) -> bool {
        self.value == "true"
    }
}

fn kind(f: &FieldDef) -> &'static str {
    match f.kind {
        FieldType::Number => "number",
        FieldType::Bool => "checkbox",
        FieldType::Date => "date",
        FieldType::Email => "email",
        FieldType::Phone => "tel",
        FieldType::Enum { .. } => "select",
        FieldType::Json => "textarea",
        FieldType::Text | FieldType::Datetime | FieldType::Reference { .. } | FieldType::File => "text",
    }
}

/// A stored value as a person reads it (and as an input holds it).
pub(crate) fn shown(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The inputs of a form over `data` (a record's, or what was typed).
pub(crate) fn inputs(fields: &[FieldDef], data: &Map<String, Value>, errors: &FieldErrors) -> Vec<Input> {
    fields
        .iter()
        .map(|f| Input {
            name: format!("f.{}", f.name),
            id: format!("field-{}", f.name),
            kind: kind(f),
            value: shown(data.get(&f.name)),
            options: match &f.kind {
                FieldType::Enum { values } => values.clone(),
                _ => Vec::new(),
            },
            required: f.required,
            error: errors.get(&f.name).map(str::to_owned),
        })
        .collect()
}

/// The record a posted form describes: every field of the collection,
/// typed; an empty input is no value (`null`, which removes it on update).
/// What cannot be read as its type goes as typed, for the service to refuse.
pub(crate) fn record(fields: &[FieldDef], posted: &[(String, String)]) -> Map<String, Value> {
    let sent = |name: &str| posted.iter().find(|(k, _)| k.strip_prefix("f.") == Some(name)).map(|(_, v)| v.trim());
    let mut out = Map::new();
    for f in fields {
        let value = match (&f.kind, sent(&f.name)) {
            (FieldType::Bool, v) => Value::Bool(v.is_some()),
            (_, None | Some("")) => Value::Null,
            (FieldType::Number, Some(v)) => match (v.parse::<i64>(), v.parse::<f64>()) {
                (Ok(n), _) => Value::from(n),
                (_, Ok(x)) if x.is_finite() => Value::from(x),
                _ => Value::from(v),
            },
            (FieldType::Json, Some(v)) => serde_json::from_str(v).unwrap_or_else(|_| Value::from(v)),
            (_, Some(v)) => Value::from(v),
        };
        out.insert(f.name.clone(), value);
    }
    out
}

/// The words for a bool, for lists and the record page.
pub(crate) fn cell(tr: Tr, f: &FieldDef, data: &Value) -> String {
    match (&f.kind, data.get(&f.name)) {
        (FieldType::Bool, Some(Value::Bool(true))) => tr.t("yes"),
        (FieldType::Bool, Some(Value::Bool(false))) => tr.t("no"),
        (_, v) => shown(v),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn fields() -> Vec<FieldDef> {
        serde_json::from_value(serde_json::json!([
            { "name": "name", "type": "text", "required": true }, { "name": "age", "type": "number" },
            { "name": "ok", "type": "bool" }, { "name": "status", "type": "enum", "values": ["a", "b"] }
        ]))
        .unwrap()
    }

    fn posted(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_form_becomes_typed_values() {
        let r = record(&fields(), &posted(&[("f.name", " Ada "), ("f.age", "36"), ("f.ok", "on"), ("csrf", "x")]));
        assert_eq!(Value::Object(r), serde_json::json!({ "name": "Ada", "age": 36, "ok": true, "status": null }));
        let r = record(&fields(), &posted(&[("f.age", "2.5"), ("f.status", "b")]));
        assert_eq!(
            (&r["age"], &r["ok"], &r["status"]),
            (&serde_json::json!(2.5), &Value::Bool(false), &Value::from("b"))
        );
        let r = record(&fields(), &posted(&[("f.age", "old")]));
        assert_eq!(r["age"], Value::from("old"), "left for the service to refuse, with its message");
    }

    proptest! {
        /// Any posted form: no panic, only the collection's fields come out,
        /// and the form's own names (`csrf`) never become a field.
        #[test]
        fn any_form_yields_only_the_collections_fields(pairs in prop::collection::vec(("(f\\.)?[a-z]{0,6}", ".{0,12}"), 0..8)) {
            let posted: Vec<(String, String)> = pairs;
            let r = record(&fields(), &posted);
            let mut keys: Vec<&String> = r.keys().collect();
            keys.sort();
            prop_assert_eq!(keys, vec!["age", "name", "ok", "status"]);
        }
    }
}
