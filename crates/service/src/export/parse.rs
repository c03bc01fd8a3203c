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
    Entry(ExportEntry<'static>),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    /// A document with `n` records (and a user, a collection, a file and
    /// journal entries) whose texts come from `text`, its keys in the order
    /// the exporter writes them.
    fn document(n: usize, text: &str) -> Vec<u8> {
        let record = |i: usize| {
            json!({ "id": format!("r{i}"), "collection": "c", "created_at": text, "created_by": text,
                "revisions": [{ "revision": 1, "at": text, "by": text, "data": { "f": text, "n": i }, "deleted": false }] })
        };
        let entry = |i: usize| {
            json!({ "chain_seq": i, "at": text, "actor": text, "action": "record.created", "entity": "record",
                "entity_id": format!("r{i}"), "payload_hash": "p", "prev_hash": "h", "hash": format!("h{i}") })
        };
        let keys: [(&str, Value); 9] = [
            ("format", json!("valv-export")),
            ("version", json!(1)),
            ("exported_at", json!(text)),
            (
                "tenant",
                json!({ "id": "t", "slug": "s", "name": text, "contact_name": text, "contact_email": text,
                "contact_phone": text, "status": "active", "require_second_factor": false,
                "terminated_at": null, "created_at": text }),
            ),
            (
                "users",
                json!([{ "id": "u", "name": text, "email": text, "phone": text, "role": "owner",
                "status": "active", "created_at": text }]),
            ),
            (
                "collections",
                json!([{ "id": "c", "name": "c", "fields": [], "data_subject": false, "created_at": text }]),
            ),
            ("records", Value::from((0..n).map(record).collect::<Vec<_>>())),
            (
                "files",
                json!([{ "id": "f", "folder": "/", "name": text, "created_at": text, "created_by": text,
                "versions": [{ "version": 1, "size": 1, "sha256": "x", "media_type": "text/plain",
                    "uploaded_by": text, "uploaded_at": text, "path": "files/f/1" }] }]),
            ),
            ("journal", Value::from((0..n).map(entry).collect::<Vec<_>>())),
        ];
        let body: Vec<String> = keys.iter().map(|(k, v)| format!("{}:{v}", json!(k))).collect();
        format!("{{{}}}", body.join(",")).into_bytes()
    }

    fn pieces(bytes: &[u8]) -> Result<Vec<Piece>, String> {
        let mut out = Vec::new();
        parse(bytes, &mut |p| {
            out.push(p);
            Ok(())
        })?;
        Ok(out)
    }

    proptest! {
        /// Every item arrives, once, in document order, with its text intact.
        #[test]
        fn a_document_arrives_piece_by_piece_in_order(n in 0usize..20, text in ".{0,16}") {
            let doc = document(n, &text);
            let got = pieces(&doc).unwrap();
            prop_assert_eq!(got.len(), 2 + 1 + 1 + n + 1 + n, "version, tenant, user, collection, records, file, entries");
            prop_assert!(matches!(&got[0], Piece::Version { format, version: 1 } if format == "valv-export"), "version first");
            prop_assert!(matches!(&got[1], Piece::Tenant(t) if t.name == text), "then the tenant");
            for (i, p) in got[4..4 + n].iter().enumerate() {
                let want = format!("r{i}");
                prop_assert!(matches!(p, Piece::Record(r) if r.id == want && r.revisions[0].data["f"] == text.as_str()), "record {}", i);
            }
            prop_assert!(matches!(&got[4 + n], Piece::File(f) if f.name == text), "then the file");
            let last = got.last().unwrap();
            let want = format!("h{}", n.saturating_sub(1));
            prop_assert!(n == 0 || matches!(last, Piece::Entry(e) if e.hash == want), "the journal last");
        }

        /// A document cut anywhere is an error, never a shorter success.
        #[test]
        fn a_cut_document_is_refused(n in 0usize..6, cut in any::<prop::sample::Index>()) {
            let doc = document(n, "x");
            let at = cut.index(doc.len());
            prop_assert!(pieces(&doc[..at]).is_err(), "cut at {} of {}", at, doc.len());
        }
    }

    #[test]
    fn unknown_keys_and_a_sink_that_gives_up_stop_the_parse() {
        let err = pieces(br#"{"format":"valv-export","version":1,"extra":[]}"#).unwrap_err();
        assert!(err.contains("unknown field `extra`"), "{err}");
        let doc = document(3, "x");
        let mut seen = 0;
        let err = parse(&doc[..], &mut |_| {
            seen += 1;
            if seen == 5 { Err("stopped".into()) } else { Ok(()) }
        });
        assert!(err.unwrap_err().contains("stopped") && seen == 5, "nothing after the sink gave up");
    }
}
