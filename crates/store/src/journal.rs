//! Journal entries, how a backend links a new one to its chain, and how a chain
//! is verified (`valv audit verify`). Removal, reordering or alteration of any
//! entry breaks either the sequence, a `prev_hash` link or an entry hash; the
//! chain head kept beside the entries catches removal of the newest entries.

use serde::Serialize;
use time::OffsetDateTime;
use valv_crypto::chain::{GENESIS, Link, link_hash, payload_hash};
use valv_domain::stamp;

use crate::Change;

/// One stored journal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    /// Position in the whole installation's journal (commit order).
    pub seq: u64,
    pub chain: String,
    /// Position within its chain, from 1 without gaps.
    pub chain_seq: u64,
    /// [`valv_domain::stamp`] of the instant.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// `None` once erased (GDPR Art. 17); the hash below still proves it existed.
    #[serde(skip)]
    pub payload: Option<Vec<u8>>,
    pub payload_hash: String,
    pub prev_hash: String,
    pub hash: String,
}

impl JournalEntry {
    /// The row image of record `id` this entry's payload carries: the record
    /// as this change left it. `None` when the change wrote no such row or
    /// the payload was erased.
    #[must_use]
    pub fn record_image(&self, id: valv_domain::RecordId) -> Option<crate::RecordRow> {
        record_image(self.payload.as_deref(), id)
    }
}

impl HistoryItem {
    /// As [`JournalEntry::record_image`].
    #[must_use]
    pub fn record_image(&self, id: valv_domain::RecordId) -> Option<crate::RecordRow> {
        record_image(self.payload.as_deref(), id)
    }
}

fn record_image(payload: Option<&[u8]>, id: valv_domain::RecordId) -> Option<crate::RecordRow> {
    #[derive(serde::Deserialize)]
    struct Payload {
        rows: Vec<crate::Row>,
    }
    let p: Payload = serde_json::from_slice(payload?).ok()?;
    p.rows.into_iter().find_map(|r| match r {
        crate::Row::Record(r) if r.id == id => Some(r),
        _ => None,
    })
}

/// What a revision history needs of an entry: whose it is, where it stands
/// in its chain, and its payload (`None` once erased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    pub entity_id: String,
    pub chain_seq: u64,
    pub payload: Option<Vec<u8>>,
}

/// The newest entry of a chain, kept beside the chain so that truncation shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub chain_seq: u64,
    pub hash: String,
}

/// Filters for reading a chain, newest first.
#[derive(Debug, Clone, Default)]
pub struct JournalQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// Only entries with `chain_seq` below this (paging cursor).
    pub before: Option<u64>,
    pub limit: u32,
}

/// Builds the entry that follows `head` for `change`; `seq` is the backend's.
#[must_use]
pub fn next_entry(change: &Change, head: Option<&ChainHead>, seq: u64) -> JournalEntry {
    let payload = change.payload();
    let chain = change.chain.key();
    let chain_seq = head.map_or(1, |h| h.chain_seq + 1);
    let prev_hash = head.map_or_else(|| GENESIS.to_owned(), |h| h.hash.clone());
    let mut e = JournalEntry {
        seq,
        chain,
        chain_seq,
        at: stamp(change.at),
        actor: change.actor.to_string(),
        action: change.action.as_str().to_owned(),
        entity: change.entity.to_owned(),
        entity_id: change.entity_id.clone(),
        payload_hash: payload_hash(&payload),
        payload: Some(payload),
        prev_hash,
        hash: String::new(),
    };
    e.hash = link_hash(&link(&e));
    e
}

fn link(e: &JournalEntry) -> Link<'_> {
    Link {
        chain: &e.chain,
        chain_seq: e.chain_seq,
        at: &e.at,
        actor: &e.actor,
        action: &e.action,
        entity: &e.entity,
        entity_id: &e.entity_id,
        payload_hash: &e.payload_hash,
        prev_hash: &e.prev_hash,
    }
}

/// Where and why a chain failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chain {chain}: entry {chain_seq}{} {reason}", seq.map(|s| format!(" (seq {s})")).unwrap_or_default())]
pub struct Broken {
    pub chain: String,
    pub chain_seq: u64,
    /// The entry's position in the whole journal; `None` for an entry that
    /// is missing, whose position nothing left records.
    pub seq: Option<u64>,
    pub reason: &'static str,
}

/// Verifies one chain entry by entry, in `chain_seq` order, so a chain of any
/// length is checked with flat memory (read it page by page).
#[derive(Debug)]
pub struct Verifier {
    chain: String,
    prev: String,
    count: u64,
    last_seq: u64,
}

impl Verifier {
    #[must_use]
    pub fn new(chain: &str) -> Self {
        Self { chain: chain.to_owned(), prev: GENESIS.to_owned(), count: 0, last_seq: 0 }
    }

    /// Checks the next entry.
    ///
    /// # Errors
    /// The entry, if it is broken.
    pub fn push(&mut self, e: &JournalEntry) -> Result<(), Broken> {
        let broken = |reason| Broken { chain: self.chain.clone(), chain_seq: e.chain_seq, seq: Some(e.seq), reason };
        if e.chain != self.chain {
            return Err(broken("belongs to another chain"));
        }
        if e.chain_seq != self.count + 1 {
            return Err(broken("is out of sequence: an entry before it is missing or moved"));
        }
        if e.seq <= self.last_seq {
            return Err(broken("is out of commit order"));
        }
        if e.prev_hash != self.prev {
            return Err(broken("does not link to the entry before it"));
        }
        if e.payload.as_ref().is_some_and(|p| payload_hash(p) != e.payload_hash) {
            return Err(broken("has a payload that does not match its hash"));
        }
        if link_hash(&link(e)) != e.hash {
            return Err(broken("has been altered: its hash does not match its fields"));
        }
        self.count += 1;
        self.prev.clone_from(&e.hash);
        self.last_seq = e.seq;
        Ok(())
    }

    /// Checks the end of the chain against its recorded head; returns the number of entries.
    ///
    /// # Errors
    /// A missing tail or head.
    pub fn finish(self, head: Option<&ChainHead>) -> Result<u64, Broken> {
        let (chain, count, last) = (self.chain, self.count, Some(self.last_seq));
        let broken = |chain_seq, seq, reason| Err(Broken { chain: chain.clone(), chain_seq, seq, reason });
        match head {
            // The first missing entry is named: its position in the journal went with it.
            Some(h) if h.chain_seq > count => {
                broken(count + 1, None, "is missing: the chain ends before its recorded head")
            }
            Some(h) if h.chain_seq < count => broken(h.chain_seq + 1, None, "follows the recorded head of its chain"),
            Some(h) if h.hash != self.prev => {
                broken(count, last, "does not match the recorded head: the newest entry was replaced")
            }
            None if count > 0 => broken(count, last, "has no recorded chain head"),
            _ => Ok(count),
        }
    }
}

/// Verifies one whole chain given in `chain_seq` order against its recorded
/// head. Returns the number of entries.
///
/// # Errors
/// The first broken entry.
pub fn verify<'a>(
    chain: &str,
    entries: impl IntoIterator<Item = &'a JournalEntry>,
    head: Option<&ChainHead>,
) -> Result<u64, Broken> {
    let mut v = Verifier::new(chain);
    for e in entries {
        v.push(e)?;
    }
    v.finish(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, Chain};
    use proptest::prelude::*;

    fn build(n: usize) -> (Vec<JournalEntry>, ChainHead) {
        let mut out: Vec<JournalEntry> = Vec::new();
        for i in 0..n {
            let c = Change::new(
                Chain::Provider,
                time::macros::datetime!(2026-01-01 0:00 UTC),
                Actor::System,
                crate::Action::AuthSignedIn,
            )
            .about("thing", i)
            .detail(serde_json::json!({ "i": i }));
            let head = out.last().map(|e| ChainHead { chain_seq: e.chain_seq, hash: e.hash.clone() });
            out.push(next_entry(&c, head.as_ref(), i as u64 + 1));
        }
        let last = out.last().map(|e| ChainHead { chain_seq: e.chain_seq, hash: e.hash.clone() });
        (out, last.unwrap_or(ChainHead { chain_seq: 0, hash: GENESIS.into() }))
    }

    #[derive(Debug, Clone)]
    enum Tamper {
        Field(usize, u8),
        Payload(usize),
        Remove(usize),
        Swap(usize, usize),
    }

    fn tamper() -> impl Strategy<Value = Tamper> {
        prop_oneof![
            (any::<usize>(), 0u8..6).prop_map(|(i, f)| Tamper::Field(i, f)),
            any::<usize>().prop_map(Tamper::Payload),
            any::<usize>().prop_map(Tamper::Remove),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::Swap(a, b)),
        ]
    }

    /// New users' finding: with the newest entry deleted, the report named
    /// the entry before it. It names the missing one, whose journal
    /// position nothing records any more.
    #[test]
    fn a_missing_newest_entry_is_named_and_not_its_neighbour() {
        let (mut entries, head) = build(3);
        entries.pop();
        let b = verify("provider", &entries, Some(&head)).unwrap_err();
        assert_eq!((b.chain_seq, b.seq), (3, None), "{b}");
        assert_eq!(b.to_string(), "chain provider: entry 3 is missing: the chain ends before its recorded head");
        let replaced = ChainHead { chain_seq: 3, hash: "f".repeat(64) };
        let b = verify("provider", &build(3).0, Some(&replaced)).unwrap_err();
        assert_eq!((b.chain_seq, b.seq), (3, Some(3)), "the newest entry is there but not the recorded one: {b}");
    }

    proptest! {
        #[test]
        fn an_untouched_chain_verifies(n in 0usize..30) {
            let (entries, head) = build(n);
            let head = (n > 0).then_some(head);
            prop_assert_eq!(verify("provider", &entries, head.as_ref()), Ok(n as u64));
        }

        #[test]
        fn any_tampering_is_detected(n in 1usize..30, t in tamper()) {
            let (mut entries, head) = build(n);
            match t {
                Tamper::Field(i, f) => {
                    let e = &mut entries[i % n];
                    match f {
                        0 => e.at.push('1'),
                        1 => e.actor.push('x'),
                        2 => e.action.push('x'),
                        3 => e.entity_id.push('x'),
                        4 => e.payload_hash = GENESIS.into(),
                        _ => e.chain_seq += 7,
                    }
                }
                Tamper::Payload(i) => {
                    if let Some(p) = entries[i % n].payload.as_mut() { p.push(b' '); }
                }
                Tamper::Remove(i) => { entries.remove(i % n); }
                Tamper::Swap(a, b) => {
                    prop_assume!(a % n != b % n);
                    entries.swap(a % n, b % n);
                }
            }
            prop_assert!(verify("provider", &entries, Some(&head)).is_err());
        }
    }
}
