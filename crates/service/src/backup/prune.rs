//! Retention of backups: point-in-time history 35 days, daily snapshots 30
//! days, monthly snapshots 12 months (`valv_backup_format::Policy`). Pruning removes
//! the snapshots and segments the plan drops, then the chunks nothing kept
//! refers to: not the live state (chunks of entries still being shipped),
//! not a kept snapshot, not a segment left on the target (listed again after
//! the drops, so a segment merged meanwhile is counted). It never removes
//! anything a kept restore point needs.

use std::collections::BTreeSet;

use serde::Serialize;
use valv_backup_format::{Policy, SegmentInfo, SnapshotInfo, Target};
use valv_domain::parse_stamp;
use valv_store::ShippedEntry;

use super::objects::{self, Keys};
use super::restore::manifests;
use super::{internal, snapshot};
use crate::{Backups, Caller, ServiceResult};

/// What pruning removed from one target.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub target: String,
    pub snapshots_kept: usize,
    pub snapshots_removed: Vec<String>,
    pub segments_kept: usize,
    pub segments_removed: usize,
    pub chunks_removed: usize,
}

impl Backups<'_> {
    /// Applies the retention policy to every target.
    ///
    /// # Errors
    /// `Forbidden` unless operator, CLI or system; a target or the store failed.
    pub async fn prune_backups(&self, caller: &Caller, policy: &Policy) -> ServiceResult<Vec<PruneReport>> {
        caller.operator()?;
        let mut out = Vec::new();
        for t in self.targets.iter() {
            out.push(self.prune(t, policy).await?);
        }
        Ok(out)
    }

    async fn prune(&self, target: &Target, policy: &Policy) -> ServiceResult<PruneReport> {
        let backup = self.ctx.keyring.backup_key().await.map_err(internal)?;
        let keys = self.keys(&backup);
        let now = self.ctx.now();
        let snaps = manifests(&[target], &backup).await?;
        let infos: Vec<SnapshotInfo> = snaps
            .iter()
            .map(|m| SnapshotInfo {
                id: m.id.clone(),
                seq: m.position.seq,
                at: parse_stamp(&m.position.at).or_else(|_| parse_stamp(&m.taken_at)).unwrap_or(now),
            })
            .collect();
        // The plan decides segments by journal position alone; `last_at` is informational.
        let segments: Vec<SegmentInfo> = objects::list_segments(target)
            .await?
            .into_iter()
            .map(|(name, (first_seq, last_seq))| SegmentInfo { name, first_seq, last_seq, last_at: now })
            .collect();
        let plan = policy.plan(&infos, &segments, now);

        for id in &plan.drop_snapshots {
            for (path, _) in target.list(&format!("snapshots/{id}/")).await.map_err(internal)? {
                target.delete(&path).await.map_err(internal)?;
            }
        }
        for name in &plan.drop_segments {
            target.delete(name).await.map_err(internal)?;
        }
        let mut referenced = self.live_chunks().await?;
        for m in snaps.iter().filter(|m| plan.keep_snapshots.contains(&m.id)) {
            referenced.extend(self.snapshot_chunks(target, &m.id, &keys).await?);
        }
        referenced.extend(self.segment_chunks(target, &keys).await?);
        let mut chunks_removed = 0;
        for (path, _) in target.list("chunks/").await.map_err(internal)? {
            let mut it = path.split('/').skip(1);
            let (Some(tenant), Some(_), Some(id)) = (it.next(), it.next(), it.next()) else { continue };
            if !referenced.contains(&(tenant.to_owned(), id.to_owned())) {
                target.delete(&path).await.map_err(internal)?;
                chunks_removed += 1;
            }
        }
        Ok(PruneReport {
            target: target.name().to_owned(),
            snapshots_kept: plan.keep_snapshots.len(),
            snapshots_removed: plan.drop_snapshots,
            segments_kept: plan.keep_segments.len(),
            segments_removed: plan.drop_segments.len(),
            chunks_removed,
        })
    }

    /// Chunks the segments left on the target refer to. Segments are listed
    /// anew: one merged away meanwhile (`compact.rs` writes the merged
    /// segment before it removes the inputs) sends this round again.
    async fn segment_chunks(&self, target: &Target, keys: &Keys<'_>) -> ServiceResult<BTreeSet<(String, String)>> {
        'listing: for _ in 0..3 {
            let mut out = BTreeSet::new();
            for (name, _) in objects::list_segments(target).await? {
                let parts = match objects::fetch(&[target], &name, &keys.backup).await {
                    Ok(b) => b,
                    Err(_) if !target.exists(&name).await.map_err(internal)? => continue 'listing,
                    Err(e) => return Err(e),
                };
                let (entries, _) = objects::open_lines::<ShippedEntry>(parts, &name, keys).await?;
                let payloads = entries.iter().filter_map(|e| e.0.payload.as_deref());
                out.extend(payloads.flat_map(|p| objects::file_chunks(p.as_bytes())));
            }
            return Ok(out);
        }
        Err(crate::ServiceError::internal_msg("the segments on the target kept changing while pruning; prune again"))
    }

    /// Chunks the live state uses (entries not shipped yet refer to these too).
    async fn live_chunks(&self) -> ServiceResult<BTreeSet<(String, String)>> {
        let mut out = BTreeSet::new();
        for t in self.ctx.store.tenants().await? {
            let key = t.id.to_string();
            out.extend(self.ctx.store.referenced_chunks(t.id).await?.into_iter().map(|c| (key.clone(), c)));
        }
        Ok(out)
    }

    async fn snapshot_chunks(
        &self,
        target: &Target,
        id: &str,
        keys: &Keys<'_>,
    ) -> ServiceResult<Vec<(String, String)>> {
        let name = snapshot::chunks_object(id);
        let parts = objects::fetch(&[target], &name, &keys.backup).await?;
        Ok(objects::open_lines::<(String, String)>(parts, &name, keys).await?.0)
    }
}
