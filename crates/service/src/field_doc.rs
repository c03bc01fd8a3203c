//! The JSON shape of a collection's field, for the OpenAPI document only:
//! the three forms `FieldDef` reads (a plain type, an enum with its values,
//! a reference with its collection), each with its required keys and no
//! others, so what the document allows is what the validation accepts
//! (new users' finding: `{"fields":[{}]}` was valid by the document).
#![allow(dead_code)] // read by utoipa's derive, never built

use serde::Deserialize;
use utoipa::ToSchema;

/// One field of a collection.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum FieldDoc {
    Plain(PlainField),
    Enum(EnumField),
    Reference(ReferenceField),
}

/// A field of a plain type.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlainField {
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    name: String,
    #[serde(rename = "type")]
    kind: PlainType,
    #[serde(default)]
    required: bool,
    personal: Option<Personal>,
    /// Kept in clear beside the sealed record, so filters and sorts on it run
    /// in the database; not with `personal` (found by its blind index only).
    #[serde(default)]
    searchable: bool,
}

/// A field holding one of a fixed list of strings.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnumField {
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    name: String,
    #[serde(rename = "type")]
    kind: EnumType,
    #[schema(min_items = 1, max_items = 500)]
    values: Vec<String>,
    #[serde(default)]
    required: bool,
    personal: Option<Personal>,
    /// Kept in clear beside the sealed record, so filters and sorts on it run
    /// in the database; not with `personal` (found by its blind index only).
    #[serde(default)]
    searchable: bool,
}

/// A field holding the id of a record of another collection of the tenant.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferenceField {
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    name: String,
    #[serde(rename = "type")]
    kind: ReferenceType,
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    collection: String,
    #[serde(default)]
    required: bool,
    personal: Option<Personal>,
    /// Kept in clear beside the sealed record, so filters and sorts on it run
    /// in the database; not with `personal` (found by its blind index only).
    #[serde(default)]
    searchable: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlainType {
    Text,
    Number,
    Bool,
    Date,
    Datetime,
    Email,
    Phone,
    Json,
    File,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnumType {
    Enum,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReferenceType {
    Reference,
}

/// GDPR category of the personal data a field holds (Art. 4(1), Art. 9).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Personal {
    Identity,
    Contact,
    Financial,
    Health,
    SpecialCategory,
    Other,
}
