//! Collections: a tenant's record types, their fields and the personal-data
//! annotations that the register of processing (GDPR Art. 30), data-subject
//! requests (Art. 15-20) and retention read. Annotations are first-class
//! schema, not free text, so later features can rely on them.

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// The kind of value a field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    Text,
    Number,
    Bool,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339 instant.
    Datetime,
    Email,
    /// E.164 mobile or landline number.
    Phone,
    /// One of a fixed list of strings.
    Enum {
        values: Vec<String>,
    },
    /// Any JSON value.
    Json,
    /// The id of a record of `collection` in the same tenant.
    Reference {
        collection: String,
    },
    /// The id of a file in the same tenant.
    File,
}

/// GDPR categories of personal data (Art. 4(1), Art. 9 special categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonalCategory {
    Identity,
    Contact,
    Financial,
    Health,
    /// Art. 9(1): racial or ethnic origin, political opinions, religion, trade
    /// union membership, genetic, biometric, sex life or orientation.
    SpecialCategory,
    Other,
}

/// One field of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawField", into = "RawField")]
pub struct FieldDef {
    pub name: String,
    pub kind: FieldType,
    pub required: bool,
    /// Set when the field holds personal data.
    pub personal: Option<PersonalCategory>,
    /// Kept in clear beside the sealed record, so filters and sorts on it
    /// run in the database (DESIGN.md, Sealed at rest). Never with `personal`:
    /// a personal field is found by its blind index only.
    pub searchable: bool,
}

/// The JSON form of a field: `{"name", "type", "values"?, "collection"?, "required"?, "personal"?}`.
/// (A flat struct rather than a tagged enum, so unknown keys are refused.)
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    collection: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    personal: Option<PersonalCategory>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    searchable: bool,
}

impl TryFrom<RawField> for FieldDef {
    type Error = String;

    fn try_from(r: RawField) -> Result<Self, String> {
        let kind = match (r.kind.as_str(), r.values, r.collection) {
            ("enum", Some(values), None) => FieldType::Enum { values },
            ("reference", None, Some(collection)) => FieldType::Reference { collection },
            ("enum", ..) => return Err("an enum field needs `values` (and nothing else)".into()),
            ("reference", ..) => return Err("a reference field needs `collection` (and nothing else)".into()),
            (_, Some(_), _) | (_, _, Some(_)) => {
                return Err("`values` belongs to enum fields, `collection` to reference fields".into());
            }
            (t, None, None) => simple_type(t).ok_or_else(|| format!("unknown field type `{t}`"))?,
        };
        Ok(Self { name: r.name, kind, required: r.required, personal: r.personal, searchable: r.searchable })
    }
}

fn simple_type(t: &str) -> Option<FieldType> {
    Some(match t {
        "text" => FieldType::Text,
        "number" => FieldType::Number,
        "bool" => FieldType::Bool,
        "date" => FieldType::Date,
        "datetime" => FieldType::Datetime,
        "email" => FieldType::Email,
        "phone" => FieldType::Phone,
        "json" => FieldType::Json,
        "file" => FieldType::File,
        _ => return None,
    })
}

impl From<FieldDef> for RawField {
    fn from(f: FieldDef) -> Self {
        let (kind, values, collection) = match f.kind {
            FieldType::Enum { values } => ("enum", Some(values), None),
            FieldType::Reference { collection } => ("reference", None, Some(collection)),
            FieldType::Text => ("text", None, None),
            FieldType::Number => ("number", None, None),
            FieldType::Bool => ("bool", None, None),
            FieldType::Date => ("date", None, None),
            FieldType::Datetime => ("datetime", None, None),
            FieldType::Email => ("email", None, None),
            FieldType::Phone => ("phone", None, None),
            FieldType::Json => ("json", None, None),
            FieldType::File => ("file", None, None),
        };
        Self {
            name: f.name,
            kind: kind.into(),
            values,
            collection,
            required: f.required,
            personal: f.personal,
            searchable: f.searchable,
        }
    }
}

/// A collection name or field name: 1 to 64 of `a-z`, `0-9`, `_`, starting with a letter.
///
/// # Errors
/// When `s` is not such a name.
pub fn parse_identifier(s: &str) -> Result<String, Invalid> {
    let ok = (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Invalid::new("identifier", "must be 1 to 64 of a-z, 0-9 and _, starting with a letter"))
    }
}

/// Checks a field list: valid, unique names; sensible enum and reference definitions.
///
/// # Errors
/// The first problem found.
pub fn check_fields(fields: &[FieldDef]) -> Result<(), Invalid> {
    if fields.len() > 200 {
        return Err(Invalid::new("fields", "a collection has at most 200 fields"));
    }
    for (i, f) in fields.iter().enumerate() {
        parse_identifier(&f.name)?;
        if fields[..i].iter().any(|g| g.name == f.name) {
            return Err(Invalid::new("fields", "field names must be unique"));
        }
        if f.searchable && f.personal.is_some() {
            return Err(Invalid::new(
                "fields",
                "a field marked personal is found by its blind index only: it cannot also be searchable in clear",
            ));
        }
        match &f.kind {
            FieldType::Enum { values } if values.is_empty() || values.len() > 500 => {
                return Err(Invalid::new("fields", "an enum field needs 1 to 500 values"));
            }
            FieldType::Reference { collection } => {
                parse_identifier(collection)?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_from_json_with_their_annotations() {
        let f: FieldDef = serde_json::from_value(serde_json::json!({
            "name": "email", "type": "email", "required": true, "personal": "contact"
        }))
        .unwrap();
        assert_eq!(f.kind, FieldType::Email);
        assert_eq!(f.personal, Some(PersonalCategory::Contact));
        let e: FieldDef =
            serde_json::from_value(serde_json::json!({ "name": "status", "type": "enum", "values": ["a", "b"] }))
                .unwrap();
        assert_eq!(e.kind, FieldType::Enum { values: vec!["a".into(), "b".into()] });
        let typo =
            serde_json::from_value::<FieldDef>(serde_json::json!({ "name": "x", "type": "text", "persnal": "health" }));
        assert!(typo.is_err(), "unknown keys are refused");
        let round = serde_json::to_value(&e).unwrap();
        assert_eq!(round.get("searchable"), None, "written only when set, so earlier images read the same");
        assert_eq!(serde_json::from_value::<FieldDef>(round).unwrap(), e);
        let s: FieldDef =
            serde_json::from_value(serde_json::json!({ "name": "s", "type": "text", "searchable": true })).unwrap();
        assert!(s.searchable);
        let both = serde_json::json!([{ "name": "e", "type": "email", "personal": "contact", "searchable": true }]);
        assert!(check_fields(&serde_json::from_value::<Vec<FieldDef>>(both).unwrap()).is_err(), "never in clear");
    }

    #[test]
    fn identifiers_and_field_lists_are_checked() {
        assert!(parse_identifier("contacts_2").is_ok());
        for bad in ["", "2x", "Name", "a-b", "a b", &"x".repeat(65)] {
            assert!(parse_identifier(bad).is_err(), "{bad}");
        }
        let f = |name: &str| FieldDef {
            name: name.into(),
            kind: FieldType::Text,
            required: false,
            personal: None,
            searchable: false,
        };
        assert!(check_fields(&[f("a"), f("b")]).is_ok());
        assert!(check_fields(&[f("a"), f("a")]).is_err());
    }
}
