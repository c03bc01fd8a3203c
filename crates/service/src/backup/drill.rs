//! The restore drill ("backups are checked regularly for restorability"):
//! for each target on its own, restore its newest snapshot into a scratch
//! store and compare the restored state's digest with the live digest the
//! manifest recorded at that journal position; replay every segment after
//! it and verify every hash chain of the result; read back a sample of
//! chunks and open them with their tenant's key (all chunks once a week).

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use valv_backup_format::Target;
use valv_blob::{ChunkId, TenantKeys};
use valv_domain::TenantId;

use super::restore::{RestoreReport, load_snapshot, manifests, replay};
use super::slot::StoreSlot;
use super::{internal, objects};
use crate::{Backups, Caller, ServiceResult};

/// Chunks read back per drill, unless all are due.
const SAMPLE: usize = 64;

/// What one drill checked on one target.
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub target: String,
    pub snapshot: Option<String>,
    pub snapshot_seq: u64,
    pub expected_digest: String,
    pub restored_digest: String,
    pub segments_to_seq: u64,
    pub chains_verified: usize,
    pub chains_broken: Vec<String>,
    pub chunks_checked: usize,
    pub chunks_damaged: Vec<String>,
    pub all_chunks: bool,
    pub ok: bool,
    pub error: Option<String>,
}

impl Backups<'_> {
    /// Runs the drill on every target and records each result.
    ///
    /// # Errors
    /// `Forbidden` unless operator, CLI or system; no scratch store configured.
    pub async fn verify_backups(&self, caller: &Caller, all_chunks: bool) -> ServiceResult<Vec<DrillReport>> {
        caller.operator()?;
        let all_chunks = all_chunks || self.weekly_chunk_check_due().await?;
        let mut out = Vec::new();
        for t in self.targets.iter() {
            let started = (self.ctx.now(), Instant::now());
            let report = match self.drill(t, all_chunks).await {
                Ok(r) => r,
                Err(e) => DrillReport::failed(t.name(), e.to_string(), all_chunks),
            };
            let outcome = if report.ok { "ok" } else { "failed" };
            self.record_run("verify", started, outcome, serde_json::to_value(&report).map_err(internal)?).await?;
            out.push(report);
        }
        Ok(out)
    }

    /// Whether no drill read every chunk in the last seven days.
    async fn weekly_chunk_check_due(&self) -> ServiceResult<bool> {
        let week_ago = valv_domain::stamp(self.ctx.now() - time::Duration::days(7));
        let runs = self.ctx.store.backup_runs(500).await?;
        Ok(!runs.iter().any(|r| {
            r.kind == "verify" && r.outcome == "ok" && r.started_at >= week_ago && r.detail["all_chunks"] == true
        }))
    }

    async fn drill(&self, target: &Target, all_chunks: bool) -> ServiceResult<DrillReport> {
        let scratch = self
            .scratch
            .clone()
            .ok_or_else(|| crate::ServiceError::internal_msg("no scratch store for restore drills"))?;
        let dir = tempfile::tempdir().map_err(internal)?;
        let store = scratch(dir.path().to_path_buf()).await?;
        // The scratch copy seals with the installation's keys, as the live store does.
        store.seal_with(self.ctx.keyring.clone());
        let backup = self.ctx.keyring.backup_key().await.map_err(internal)?;
        let keys = self.keys(&backup);
        let only = [target];
        let newest = manifests(&only, &backup).await?.into_iter().max_by_key(|m| m.position.seq);
        let mut report = DrillReport::failed(target.name(), String::new(), all_chunks);
        report.error = None;
        let mut progress = RestoreReport::default();
        let quiet = |_: &str, _: u64, _: u64| {};
        if let Some(m) = &newest {
            load_snapshot(store.as_ref(), &only, m, &keys, &quiet).await?;
            report.snapshot = Some(m.id.clone());
            report.snapshot_seq = m.position.seq;
            report.expected_digest.clone_from(&m.position.digest);
            report.restored_digest = store.state_digest().await?.digest;
            progress.seq = m.position.seq;
        }
        let far = self.ctx.now() + time::Duration::days(1);
        replay(&StoreSlot::ready(Arc::clone(&store)), &only, far, &keys, &mut progress, &quiet).await?;
        report.segments_to_seq = progress.seq;
        for c in crate::journal::verify_all(store.as_ref()).await? {
            match c.outcome {
                Ok(_) => report.chains_verified += 1,
                Err(b) => report.chains_broken.push(b.to_string()),
            }
        }
        self.check_chunks(target, all_chunks, &mut report).await?;
        report.ok = report.expected_digest == report.restored_digest
            && report.chains_broken.is_empty()
            && report.chunks_damaged.is_empty();
        Ok(report)
    }

    /// Opens chunks read from the target with their tenant's key (authenticated decryption).
    async fn check_chunks(&self, target: &Target, all: bool, report: &mut DrillReport) -> ServiceResult<()> {
        // A purged tenant's key is gone: its chunks are shredded, not damaged.
        let keys = self.keys(&self.ctx.keyring.backup_key().await.map_err(internal)?);
        let mut paths: Vec<String> =
            target.list("chunks/").await.map_err(internal)?.into_iter().map(|(p, _)| p).collect();
        if !all && paths.len() > SAMPLE {
            let step = paths.len() / SAMPLE;
            let offset = usize::try_from(self.ctx.now().unix_timestamp().unsigned_abs()).unwrap_or(0) % step.max(1);
            paths = paths.into_iter().skip(offset).step_by(step.max(1)).take(SAMPLE).collect();
        }
        for path in paths {
            let mut it = path.split('/');
            let (Some(_), Some(tenant), Some(_), Some(id)) = (it.next(), it.next(), it.next(), it.next()) else {
                continue;
            };
            if TenantId::parse(tenant).is_err() {
                continue;
            }
            let Some(key) = keys.of(tenant).await? else { continue };
            let ok = match (ChunkId::parse(id), target.get(&path).await) {
                // The length is not known here (no manifest), so no buffer size is hinted.
                (Ok(cid), Ok(Some(bytes))) => TenantKeys::new(tenant, &key).open_chunk(&cid, &bytes, 0).is_ok(),
                _ => false,
            };
            report.chunks_checked += 1;
            if !ok {
                report.chunks_damaged.push(objects::chunk(tenant, id));
            }
        }
        Ok(())
    }
}

impl DrillReport {
    fn failed(target: &str, error: String, all_chunks: bool) -> Self {
        Self {
            target: target.to_owned(),
            snapshot: None,
            snapshot_seq: 0,
            expected_digest: String::new(),
            restored_digest: String::new(),
            segments_to_seq: 0,
            chains_verified: 0,
            chains_broken: Vec::new(),
            chunks_checked: 0,
            chunks_damaged: Vec::new(),
            all_chunks,
            ok: false,
            error: Some(error),
        }
    }
}
