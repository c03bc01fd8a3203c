//! The line form of a journal entry in a shipped segment. It is the entry's
//! image ([`EntryImage`]) with one difference: a payload holding a JSON object
//! is embedded as JSON, not as a string of JSON text. Reading it back then
//! only checks the object's bytes instead of unescaping every quote (most of
//! a segment is payloads), and the bytes stay exactly the payload's, which
//! its hash covers. Any other payload, and every line written before this
//! form, is a JSON string; an embedded payload is never one, so a reader
//! tells them apart by the first byte.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::EntryImage;

/// An entry as a segment line (see the module's header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedEntry(pub EntryImage);

/// A payload as written: embedded JSON, or the text as a string.
#[derive(Serialize)]
#[serde(untagged)]
enum PayloadOut<'a> {
    Json(&'a RawValue),
    Text(&'a str),
}

impl<'a> PayloadOut<'a> {
    fn of(text: &'a str) -> Self {
        // Only an object that starts and ends the text is embedded: whitespace
        // around it would not survive the round trip, and a string would read
        // back as the old form.
        let object = text.starts_with('{') && text.ends_with('}');
        match serde_json::from_str::<&RawValue>(text) {
            Ok(raw) if object => Self::Json(raw),
            _ => Self::Text(text),
        }
    }
}

#[derive(Serialize)]
struct LineOut<'a> {
    seq: u64,
    chain: &'a str,
    chain_seq: u64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    entity: &'a str,
    entity_id: &'a str,
    payload: Option<PayloadOut<'a>>,
    payload_hash: &'a str,
    prev_hash: &'a str,
    hash: &'a str,
}

impl Serialize for ShippedEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = &self.0;
        LineOut {
            seq: e.seq,
            chain: &e.chain,
            chain_seq: e.chain_seq,
            at: &e.at,
            actor: &e.actor,
            action: &e.action,
            entity: &e.entity,
            entity_id: &e.entity_id,
            payload: e.payload.as_deref().map(PayloadOut::of),
            payload_hash: &e.payload_hash,
            prev_hash: &e.prev_hash,
            hash: &e.hash,
        }
        .serialize(s)
    }
}

#[derive(Deserialize)]
struct LineIn {
    seq: u64,
    chain: String,
    chain_seq: u64,
    at: String,
    actor: String,
    action: String,
    entity: String,
    entity_id: String,
    payload: Option<Box<RawValue>>,
    payload_hash: String,
    prev_hash: String,
    hash: String,
}

impl<'de> Deserialize<'de> for ShippedEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let l = LineIn::deserialize(d)?;
        let payload = match l.payload {
            Some(raw) if raw.get().starts_with('"') => {
                Some(serde_json::from_str::<String>(raw.get()).map_err(serde::de::Error::custom)?)
            }
            Some(raw) => Some(Box::<str>::from(raw).into_string()),
            None => None,
        };
        Ok(Self(EntryImage {
            seq: l.seq,
            chain: l.chain,
            chain_seq: l.chain_seq,
            at: l.at,
            actor: l.actor,
            action: l.action,
            entity: l.entity,
            entity_id: l.entity_id,
            payload,
            payload_hash: l.payload_hash,
            prev_hash: l.prev_hash,
            hash: l.hash,
        }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn image(payload: Option<String>) -> EntryImage {
        EntryImage {
            seq: 7,
            chain: "provider".into(),
            chain_seq: 3,
            at: "2026-11-24T10:00:00.000001Z".into(),
            actor: "cli".into(),
            action: "record.created".into(),
            entity: "record".into(),
            entity_id: "r1".into(),
            payload,
            payload_hash: "ab".into(),
            prev_hash: "cd".into(),
            hash: "ef".into(),
        }
    }

    fn round_trip(e: &EntryImage) -> (String, EntryImage) {
        let line = serde_json::to_string(&ShippedEntry(e.clone())).unwrap();
        let back: ShippedEntry = serde_json::from_str(&line).unwrap();
        (line, back.0)
    }

    #[test]
    fn an_object_payload_is_embedded_and_comes_back_byte_for_byte() {
        let text = r#"{"rows":[{"table":"record","row":{"n":1.50,"s":"a\"b\u00e9"}}]}"#;
        let (line, back) = round_trip(&image(Some(text.into())));
        assert!(line.contains(r#""payload":{"rows""#), "embedded: {line}");
        assert_eq!(back.payload.as_deref(), Some(text), "not re-encoded: 1.50 and \\u00e9 stay");
    }

    #[test]
    fn other_payloads_and_lines_of_the_old_form_read_as_before() {
        for p in [None, Some(" {\"a\":1}".to_owned()), Some("\"text\"".into()), Some("[1]".into()), Some("{".into())] {
            let e = image(p);
            let (line, back) = round_trip(&e);
            assert_eq!(back, e, "{line}");
            let old: ShippedEntry = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
            assert_eq!(old.0, e, "an image written as it was before reads the same");
        }
    }

    /// JSON objects with arbitrary spacing, escapes and text in them.
    fn object() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| f.to_string()),
            Just("null".to_owned()),
            Just("[ true , {} ]".to_owned()),
        ];
        proptest::collection::vec((any::<String>(), value, "[ \t\n]{0,2}"), 0..5).prop_map(|fields| {
            let body: Vec<String> = fields
                .iter()
                .map(|(k, v, sp)| format!("{sp}{}{sp}:{sp}{v}{sp}", serde_json::to_string(k).unwrap()))
                .collect();
            format!("{{{}}}", body.join(","))
        })
    }

    proptest! {
        #[test]
        fn any_payload_comes_back_exactly(p in prop_oneof![object(), any::<String>()], erased in any::<bool>()) {
            let e = image((!erased).then_some(p));
            let (line, back) = round_trip(&e);
            prop_assert_eq!(back, e, "{}", line);
        }
    }
}
