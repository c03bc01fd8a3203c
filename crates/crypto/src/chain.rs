//! The journal's hash chain (DESIGN.md, The journal). Each entry's hash covers
//! the previous entry's hash and the entry's fields, with the payload included
//! only by its hash: a payload can later be erased (GDPR Art. 17) and the chain
//! still verifies.

use sha2::{Digest as _, Sha256};

/// The `prev_hash` of the first entry of every chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of one entry that its hash covers.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    pub chain: &'a str,
    pub chain_seq: u64,
    pub at: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub payload_hash: &'a str,
    pub prev_hash: &'a str,
}

/// SHA-256 of a payload, hex.
#[must_use]
pub fn payload_hash(payload: &[u8]) -> String {
    hex::encode(Sha256::digest(payload))
}

/// The entry hash. Every field is length-prefixed so that no two different
/// entries can encode to the same bytes.
#[must_use]
pub fn link_hash(l: &Link<'_>) -> String {
    let mut h = Sha256::new();
    h.update(b"valv-journal-v1");
    let seq = l.chain_seq.to_string();
    for field in [l.prev_hash, l.chain, &seq, l.at, l.actor, l.action, l.entity, l.entity_id, l.payload_hash] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(action: &str) -> Link<'_> {
        Link {
            chain: "provider",
            chain_seq: 1,
            at: "2026-01-01T00:00:00Z",
            actor: "operator:x",
            action,
            entity: "tenant",
            entity_id: "t1",
            payload_hash: GENESIS,
            prev_hash: GENESIS,
        }
    }

    #[test]
    fn any_field_changes_the_hash() {
        let base = link_hash(&link("tenant.created"));
        assert_eq!(base, link_hash(&link("tenant.created")));
        assert_ne!(base, link_hash(&link("tenant.blocked")));
        assert_ne!(base, link_hash(&Link { chain_seq: 2, ..link("tenant.created") }));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let a = Link { entity: "ab", entity_id: "c", ..link("x") };
        let b = Link { entity: "a", entity_id: "bc", ..link("x") };
        assert_ne!(link_hash(&a), link_hash(&b));
    }
}
