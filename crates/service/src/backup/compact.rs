//! Compaction of shipped segments (`valv_backup_format::compaction` decides which):
//! each merge reads its inputs from the target, writes one segment holding
//! all their entries, reads it back, and only then removes the inputs. At
//! every moment each shipped entry is in some object on the target, so a
//! restore, a drill or a prune running beside a merge finds everything it
//! needs (a restore skips entries it already holds).
//!
//! Entries are carried over as shipped, not re-read from the live journal:
//! a segment is history, and an erasure reaches it by the ledger that every
//! restore re-applies (DESIGN.md, Keys and erasure). Parts of a purged
//! tenant (its key destroyed) are left out: they are unreadable in every
//! copy already. A key that cannot be read for any other reason (a damaged
//! key, a database hiccup) stops the merge with its inputs in place.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use valv_backup_format::Target;
use valv_backup_format::compaction::{self, Merge};
use valv_store::ShippedEntry;

use super::internal;
use super::objects;
use super::ship::BATCH;
use crate::{Backups, ServiceResult};

/// Segments shipped since the last round after which a round runs even
/// while writes keep coming.
const ROUND_AFTER: u64 = 16;

/// A round runs once shipping has been quiet this long.
const QUIET: Duration = Duration::from_secs(1);

impl Backups<'_> {
    /// Merges small segments on `target` until the shipping task ends:
    /// `shipped` counts the segments it wrote.
    pub(crate) async fn compact_loop(&self, target: Target, mut shipped: tokio::sync::watch::Receiver<u64>) {
        let mut done = 0;
        loop {
            // Wait for two new segments at least, then for a quiet second or a full round's worth.
            while *shipped.borrow_and_update() < done + 2 {
                if shipped.changed().await.is_err() {
                    return;
                }
            }
            while *shipped.borrow() < done + ROUND_AFTER {
                match tokio::time::timeout(QUIET, shipped.changed()).await {
                    Err(_) => break,
                    Ok(Err(_)) => return,
                    Ok(Ok(())) => {}
                }
            }
            done = *shipped.borrow();
            if let Err(e) = self.compact_segments(&target).await {
                tracing::warn!(target = target.name(), error = %e, "merging backup segments failed; retrying later");
            }
        }
    }

    /// Merges `target`'s small segments into larger ones; returns the number
    /// of objects removed.
    ///
    /// # Errors
    /// The target or the keyring failed; inputs of a merge that did not
    /// complete are left in place.
    pub async fn compact_segments(&self, target: &Target) -> ServiceResult<usize> {
        let listed = objects::list_segments(target).await?;
        let ranges: Vec<(u64, u64)> = listed.iter().map(|(_, r)| *r).collect();
        let mut removed = 0;
        for m in compaction::plan(&ranges, u64::from(BATCH)) {
            let inputs: Vec<&String> = m.inputs.iter().map(|&i| &listed[i].0).collect();
            removed += self.merge(target, &m, &inputs).await?;
        }
        Ok(removed)
    }

    async fn merge(&self, target: &Target, m: &Merge, inputs: &[&String]) -> ServiceResult<usize> {
        let backup = self.ctx.keyring.backup_key().await.map_err(internal)?;
        let keys = self.keys(&backup);
        let mut entries: BTreeMap<u64, ShippedEntry> = BTreeMap::new();
        for name in inputs {
            let parts = objects::fetch(&[target], name, &backup).await?;
            let (lines, _) = objects::open_lines::<ShippedEntry>(parts, name, &keys).await?;
            entries.extend(lines.into_iter().map(|e| (e.0.seq, e)));
        }
        let name = objects::segment(m.first, m.last);
        let mut parts = objects::Parts::default();
        for e in entries.values() {
            parts.push(e.0.chain.clone(), e)?;
        }
        let chain_keys = self.chain_keys(parts.chains(), &backup).await?;
        target.put(&name, Bytes::from(parts.seal(&name, &chain_keys, &backup)?)).await.map_err(internal)?;
        // Read back before anything is removed: the inputs go only once their entries are safely elsewhere.
        objects::fetch(&[target], &name, &backup).await?;
        let mut removed = 0;
        for input in inputs.iter().filter(|i| ***i != name) {
            target.delete(input).await.map_err(internal)?;
            removed += 1;
        }
        tracing::debug!(target = target.name(), segment = %name, merged = inputs.len(), "merged backup segments");
        Ok(removed)
    }
}
