//! An anchor outside the database: each target keeps `heads`, for every
//! chain the newest entry shipped to it (position and hash). The database
//! alone cannot prove it was not cut: deleting the newest entries and
//! rewriting `journal_heads` leaves chains that verify. Against a target's
//! heads, a live journal that lacks a shipped entry, or holds another in its
//! place, is caught (`valv audit verify --against`). The heads only grow: a
//! chain's head on a target is never moved back, so a cut journal shipped
//! later does not overwrite the anchor that proves the cut.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use valv_backup_format::Target;
use valv_crypto::seal::Key;
use valv_store::JournalEntry;
use valv_store::journal::Broken;

use super::{internal, objects};
use crate::{Backups, Caller, ServiceError, ServiceResult};

/// For each chain, the newest entry shipped: `(chain_seq, hash)`.
pub(crate) type Heads = BTreeMap<String, (u64, String)>;

/// The heads last written to each target, by target name.
pub(crate) type Anchors = tokio::sync::Mutex<HashMap<String, Heads>>;

const HEADS: &str = "heads";

impl Backups<'_> {
    /// Raises the target's heads to the newest of `entries` and writes them.
    pub(crate) async fn put_heads(&self, target: &Target, entries: &[JournalEntry], backup: &Key) -> ServiceResult<()> {
        let mut anchors = self.anchors.lock().await;
        if !anchors.contains_key(target.name()) {
            let stored = read_heads(target, backup).await.unwrap_or_else(|e| {
                tracing::warn!(target = target.name(), error = %e, "the chain heads on the target are unreadable; writing them anew");
                Heads::new()
            });
            anchors.insert(target.name().to_owned(), stored);
        }
        let heads = anchors.get_mut(target.name()).ok_or_else(|| ServiceError::internal_msg("heads vanished"))?;
        for e in entries {
            let slot = heads.entry(e.chain.clone()).or_insert((0, String::new()));
            if e.chain_seq > slot.0 {
                *slot = (e.chain_seq, e.hash.clone());
            }
        }
        let mut parts = objects::Parts::default();
        parts.push(valv_store::backup::PROVIDER.to_owned(), &*heads)?;
        let sealed = parts.seal(HEADS, &HashMap::new(), backup)?;
        target.put(HEADS, Bytes::from(sealed)).await.map_err(internal)
    }

    /// Checks the live journal against the heads on the target `name`: every
    /// chain holds the entry the target last received, unchanged.
    ///
    /// # Errors
    /// `Forbidden` unless operator or CLI; `NotFound` for an unknown target;
    /// a target without heads (nothing shipped yet) or unreadable ones.
    pub async fn verify_against(&self, caller: &Caller, name: &str) -> ServiceResult<Vec<Broken>> {
        caller.operator()?;
        let target = self.targets.iter().find(|t| t.name() == name).ok_or(ServiceError::NotFound)?;
        let backup = self.ctx.keyring.backup_key().await.map_err(internal)?;
        let heads = read_heads(target, &backup).await?;
        let mut broken = Vec::new();
        for (chain, (chain_seq, hash)) in heads {
            let live = self.ctx.store.chain_links(&chain, chain_seq - 1, 1).await?;
            let reason = match live.first().filter(|e| e.chain_seq == chain_seq) {
                None => "was shipped to the target but is missing from the live journal: it was cut since",
                Some(e) if e.hash != hash => "differs from the entry shipped to the target: it was rewritten since",
                Some(_) => continue,
            };
            broken.push(Broken { chain, chain_seq, seq: live.first().map(|e| e.seq), reason });
        }
        Ok(broken)
    }
}

async fn read_heads(target: &Target, backup: &Key) -> ServiceResult<Heads> {
    let parts = objects::fetch(&[target], HEADS, backup).await?;
    let keys = objects::Keys::provider_only(backup.clone());
    let (mut lines, _) = objects::open_lines::<Heads>(parts, HEADS, &keys).await?;
    lines.pop().ok_or_else(|| ServiceError::internal_msg("the chain heads on the target are empty"))
}
