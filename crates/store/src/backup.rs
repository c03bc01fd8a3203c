//! What backups read from and write to a store: a consistent dump of every
//! journaled piece of state at one journal position, journal entries as
//! shipped (payload included), the state digest a restore is checked
//! against, the erasure ledger, and the bookkeeping of targets and drills
//! (operational state, not journaled).

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::{ChainHead, JournalEntry, Row, RowImage, StoreError, StoreResult};

/// The state digest: SHA-256 over every dump item's JSON, one per line, in
/// dump order. Both backends compute it with this, so it is one definition.
#[derive(Default)]
pub struct StateDigest(Sha256);

impl StateDigest {
    /// Adds the next item of the walk.
    ///
    /// # Errors
    /// `Corrupt` when the item cannot be serialised.
    pub fn add(&mut self, item: &DumpItem) -> StoreResult<()> {
        let mut line = serde_json::to_vec(item).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        line.push(b'\n');
        self.add_line(&line);
        Ok(())
    }

    /// Adds an item already serialised as its JSON line (newline included).
    pub fn add_line(&mut self, line: &[u8]) {
        self.0.update(line);
    }

    /// The digest, hex-encoded.
    #[must_use]
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// A shipped entry made ready to be replayed: the entry, and the rows of its
/// payload ready to write (their columns, and their images as shipped). A
/// restore prepares entries while the store writes the ones before, so the
/// store's single writer spends its time writing.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayEntry {
    pub entry: JournalEntry,
    pub rows: Vec<RowImage>,
}

impl ReplayEntry {
    /// Decodes `entry`'s payload (none once erased: no rows); its row images
    /// are taken as they were shipped (`RowImage::shipped`).
    ///
    /// # Errors
    /// `Corrupt` when the payload is not a change's rows.
    pub fn decode(entry: JournalEntry) -> StoreResult<Self> {
        #[derive(Deserialize)]
        struct Payload<'a> {
            #[serde(default, borrow)]
            rows: Vec<Shipped<'a>>,
        }
        #[derive(Deserialize)]
        struct Shipped<'a> {
            #[serde(borrow)]
            table: std::borrow::Cow<'a, str>,
            #[serde(borrow)]
            row: &'a serde_json::value::RawValue,
        }
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("payload of entry {}: {e}", entry.seq));
        let rows = match &entry.payload {
            Some(p) => {
                let shipped = serde_json::from_slice::<Payload<'_>>(p).map_err(corrupt)?.rows;
                shipped.iter().map(|r| RowImage::shipped(&r.table, r.row)).collect::<Result<_, _>>().map_err(corrupt)?
            }
            None => Vec::new(),
        };
        Ok(Self { entry, rows })
    }
}

/// A journal entry with its payload, as written to a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryImage {
    pub seq: u64,
    pub chain: String,
    pub chain_seq: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// The payload (JSON text), `None` once erased.
    pub payload: Option<String>,
    pub payload_hash: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<JournalEntry> for EntryImage {
    fn from(e: JournalEntry) -> Self {
        Self {
            seq: e.seq,
            chain: e.chain,
            chain_seq: e.chain_seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            payload: e.payload.map(|p| String::from_utf8_lossy(&p).into_owned()),
            payload_hash: e.payload_hash,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

impl From<EntryImage> for JournalEntry {
    fn from(e: EntryImage) -> Self {
        Self {
            seq: e.seq,
            chain: e.chain,
            chain_seq: e.chain_seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            payload: e.payload.map(String::into_bytes),
            payload_hash: e.payload_hash,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

/// One erasure as the ledger keeps it (ids and field names only, never data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerRow {
    pub id: String,
    pub tenant_id: String,
    pub at: String,
    pub detail: serde_json::Value,
}

/// One piece of a dump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "item", rename_all = "snake_case")]
pub enum DumpItem {
    Row(Row),
    Entry(EntryImage),
    Head { chain: String, chain_seq: u64, hash: String },
    Ledger(LedgerRow),
}

/// The chain key of the provider (tenants, operators).
pub const PROVIDER: &str = "provider";

impl DumpItem {
    /// Which chain's key seals this item in a backup: the tenant's, or the provider's.
    #[must_use]
    pub fn chain(&self) -> String {
        match self {
            Self::Row(row) => row.tenant().map_or_else(|| PROVIDER.to_owned(), |t| t.to_string()),
            Self::Entry(e) => e.chain.clone(),
            Self::Head { chain, .. } => chain.clone(),
            Self::Ledger(l) => l.tenant_id.clone(),
        }
    }

    #[must_use]
    pub fn head(chain: String, h: ChainHead) -> Self {
        Self::Head { chain, chain_seq: h.chain_seq, hash: h.hash }
    }
}

/// Where a dump or a digest stands: the last journal entry it includes and
/// the SHA-256 of the state there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub seq: u64,
    /// Instant of entry `seq` (empty for an empty journal).
    pub at: String,
    pub digest: String,
}

/// Receives dump items, in the dump's read transaction.
pub type DumpSink = Box<dyn FnMut(DumpItem) -> crate::StoreResult<()> + Send>;

/// How far one backup target is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TargetState {
    pub name: String,
    /// Last journal entry the target holds.
    pub shipped_seq: u64,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
}

/// One backup or drill run, as `valv backup list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRun {
    pub id: String,
    /// `full` or `verify`.
    pub kind: String,
    pub started_at: String,
    pub duration_ms: u64,
    /// `ok` or `failed`.
    pub outcome: String,
    /// What was written or checked (targets, position, digests, chunks read), or the error.
    pub detail: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(payload: Option<&str>) -> JournalEntry {
        JournalEntry {
            seq: 7,
            chain: "c".into(),
            chain_seq: 1,
            at: "2026-11-24T10:00:00Z".into(),
            actor: "cli".into(),
            action: "tenant.created".into(),
            entity: "tenant".into(),
            entity_id: "t".into(),
            payload: payload.map(|p| p.as_bytes().to_vec()),
            payload_hash: String::new(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn a_replayed_entry_decodes_its_rows_or_names_itself() {
        assert!(ReplayEntry::decode(entry(None)).expect("erased").rows.is_empty(), "an erased payload has no rows");
        assert!(ReplayEntry::decode(entry(Some("{}"))).expect("no rows").rows.is_empty());
        let bad = ReplayEntry::decode(entry(Some(r#"{"rows":[{"table":"nope","row":{}}]}"#))).expect_err("unknown");
        assert!(matches!(&bad, StoreError::Corrupt(m) if m.contains("entry 7")), "{bad}");
        assert!(ReplayEntry::decode(entry(Some("not json"))).is_err());
    }
}
