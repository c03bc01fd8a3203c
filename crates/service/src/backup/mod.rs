//! Backups (DESIGN.md, The journal; Keys and erasure): journal entries are
//! shipped to every target as sealed segments within about a second, after
//! the chunks they reference (`ship.rs`); a full backup writes a consistent
//! snapshot of all state to every target (`snapshot.rs`); a drill restores
//! it into a scratch store and compares digests (`drill.rs`); a restore
//! rebuilds an installation as it was at any instant (`restore.rs`), made
//! ready to serve in one use case (`installation.rs`).
//!
//! Objects on a target: `keyring`, `ledger`, `heads` (`anchor.rs`),
//! `chunks/…`, `segments/…`, `snapshots/{seq}/…` (see `valv-backup-format`). Tenant data is sealed with the
//! tenant's key, everything with the backup key, so a target alone reveals
//! no content (what its object names do reveal: docs/backup.md), and
//! destroying a tenant key shreds its data in every backup.

mod anchor;
mod apply;
mod compact;
mod drill;
mod installation;
mod objects;
mod prune;
mod restore;
mod ship;
mod slot;
mod snapshot;
mod stream;
mod tenant;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use valv_backup_format::Target;
use valv_crypto::seal::Key;
use valv_domain::parse_stamp;
use valv_store::{Store, TargetState};

use crate::{Backups, Caller, ServiceError, ServiceResult, Valv};

pub(crate) use anchor::Anchors;
pub use drill::DrillReport;
pub use installation::{Destination, Restored, restore_installation};
pub use prune::PruneReport;
pub use restore::{RestoreReport, RestoreRequest, restore};
pub use slot::StoreSlot;
pub use snapshot::SnapshotReport;
pub use tenant::TenantRestoreReport;

/// Makes an empty scratch store in a folder (drills restore into one).
pub type ScratchStore =
    Arc<dyn Fn(std::path::PathBuf) -> futures::future::BoxFuture<'static, ServiceResult<Arc<dyn Store>>> + Send + Sync>;

/// How far one target is, as `valv backup status` and `/metrics` show it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetStatus {
    pub name: String,
    pub location: String,
    pub shipped_seq: u64,
    /// Seconds the oldest entry not yet on this target has waited (0 when caught up).
    pub lag_seconds: f64,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
}

/// The journal's position and every target's.
#[derive(Debug, Clone, Serialize)]
pub struct BackupStatus {
    pub journal_seq: u64,
    pub targets: Vec<TargetStatus>,
}

pub(crate) fn internal(e: impl Into<anyhow::Error>) -> ServiceError {
    ServiceError::internal(e)
}

impl Backups<'_> {
    /// Where every target stands.
    ///
    /// # Errors
    /// `Forbidden` unless operator or CLI; store failures.
    pub async fn backup_status(&self, caller: &Caller) -> ServiceResult<BackupStatus> {
        caller.operator()?;
        let states: HashMap<String, TargetState> =
            self.ctx.store.backup_targets().await?.into_iter().map(|s| (s.name.clone(), s)).collect();
        let journal_seq = self.ctx.store.journal_seq().await?;
        let mut targets = Vec::new();
        for t in self.targets.iter() {
            let s = states.get(t.name()).cloned().unwrap_or_default();
            targets.push(TargetStatus {
                name: t.name().to_owned(),
                location: t.description().to_owned(),
                shipped_seq: s.shipped_seq,
                lag_seconds: self.lag(s.shipped_seq).await?,
                last_success: s.last_success,
                last_error: s.last_error,
            });
        }
        Ok(BackupStatus { journal_seq, targets })
    }

    /// The digest of all journaled state now (what a restore to this instant must reproduce).
    ///
    /// # Errors
    /// Store failures.
    pub async fn store_digest(&self) -> ServiceResult<String> {
        Ok(self.ctx.store.state_digest().await?.digest)
    }

    /// The newest full backups and drills.
    ///
    /// # Errors
    /// `Forbidden` unless operator or CLI; store failures.
    pub async fn backup_runs(&self, caller: &Caller, limit: u32) -> ServiceResult<Vec<valv_store::BackupRun>> {
        caller.operator()?;
        Ok(self.ctx.store.backup_runs(limit.clamp(1, 500)).await?)
    }

    /// Age of the oldest entry after `shipped`.
    async fn lag(&self, shipped: u64) -> ServiceResult<f64> {
        let next = self.ctx.store.journal_after(shipped, 1).await?;
        Ok(next
            .first()
            .and_then(|e| parse_stamp(&e.at).ok())
            .map_or(0.0, |at| (self.ctx.now() - at).as_seconds_f64().max(0.0)))
    }

    /// The keys of the running installation (the tenants' from the keyring).
    fn keys(&self, backup: &Key) -> objects::Keys<'_> {
        objects::Keys::live(&self.ctx.keyring, self.ctx.store.as_ref(), backup.clone())
    }

    /// The key of every chain in `chains`, as [`objects::Keys::of`]: a
    /// purged tenant's chain has none and is left out of what is written.
    async fn chain_keys(
        &self,
        chains: impl Iterator<Item = &String>,
        backup: &Key,
    ) -> ServiceResult<HashMap<String, Option<Key>>> {
        self.keys(backup).of_each(chains).await
    }
}

impl Valv {
    /// The configured backup targets.
    #[must_use]
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Backup targets to ship to and snapshot into.
    #[must_use]
    pub fn with_targets(mut self, targets: Vec<Target>, scratch: Option<ScratchStore>) -> Self {
        self.targets = Arc::new(targets);
        self.scratch = scratch;
        self
    }
}
