//! Reads `export.json` as a stream: each item of the document's lists is
//! handed over as the parser meets it, so an import of millions of records
//! never holds the document. (`serde_json` reads a value whole; a visitor
//! over the top-level object and a seed per list keep one item at a time.)

use std::fmt;
use std::io::Read;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::format::{ExportCollection, ExportEntry, ExportFile, ExportRecord, ExportTenant, ExportUser};

/// One piece of `export.json`, in document order.
#[derive(Debug)]
pub(super) enum Piece {
    /// `format` and `version`, which the writer puts first.
    Version {
        format: String,
        version: u32,
    },
    Tenant(ExportTenant),
    User(ExportUser),
    Collection(ExportCollection),
    Record(ExportRecord),
    File(ExportFile),
    Entry(ExportEntry),
}

/// Where pieces go; an error stops the parse (the receiver gave up).
type Sink<'a> = &'a mut dyn FnMut(Piece) -> Result<(), String>;

/// Parses `export.json` from `r`, giving every piece to `sink` in order.
///
/// # Errors
/// The text is not an export document (or `sink` failed), with where.
pub(super) fn parse(r: impl Read, sink: Sink<'_>) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 16, r));
    Document(sink).deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())
}

struct Document<'a>(Sink<'a>);

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the export document (an object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let sink = self.0;
        let mut format = None;
        while let Some(key) = map.next_key::<String>()? {
            let piece = match key.as_str() {
                "format" => {
                    format = Some(map.next_value::<String>()?);
                    continue;
                }
                "version" => Piece::Version { format: format.take().unwrap_or_default(), version: map.next_value()? },
                "exported_at" => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                "tenant" => Piece::Tenant(map.next_value()?),
                "users" => {
                    map.next_value_seed(List(&mut *sink, Piece::User))?;
                    continue;
                }
                "collections" => {
                    map.next_value_seed(List(&mut *sink, Piece::Collection))?;
                    continue;
                }
                "records" => {
                    map.next_value_seed(List(&mut *sink, Piece::Record))?;
                    continue;
                }
                "files" => {
                    map.next_value_seed(List(&mut *sink, Piece::File))?;
                    continue;
                }
                "journal" => {
                    map.next_value_seed(List(&mut *sink, Piece::Entry))?;
                    continue;
                }
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            };
            sink(piece).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

const FIELDS: &[&str] =
    &["format", "version", "exported_at", "tenant", "users", "collections", "records", "files", "journal"];

/// A list whose items go to the sink one by one, each made a [`Piece`] by `.1`.
struct List<'a, T>(Sink<'a>, fn(T) -> Piece);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for List<'_, T> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for List<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<T>()? {
            (self.0)((self.1)(item)).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}
