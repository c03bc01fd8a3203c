//! The jobs valv runs (the abstraction is `valv_core::jobs`): shipping the
//! journal to the backup targets, purging tenants after their export window,
//! and the daily full backup with its restore drill. `valv serve` starts
//! them in the process that leads the installation.

use std::sync::Arc;

pub use valv_core::jobs::{Cadence, Calendar, Job, JobView, Outcome};

use crate::{Caller, ServiceResult, Valv};

mod backups;
mod purge;

/// The jobs of an installation, run on the service facade.
pub type Registry = valv_core::jobs::Registry<Valv>;

/// The jobs of an installation: shipping, purging and the full backup on
/// `schedule`, pruned by `retention`.
#[must_use]
pub fn standard(schedule: valv_backup_format::Schedule, retention: valv_backup_format::Policy) -> Registry {
    Registry::default()
        .with(backups::Shipping)
        .with(purge::Purge)
        .with(backups::FullBackup { schedule: Arc::new(backups::Daily(schedule)), retention })
}

impl Valv {
    /// The jobs this installation runs.
    #[must_use]
    pub fn with_jobs(mut self, jobs: Registry) -> Self {
        self.background = Arc::new(jobs);
        self
    }

    /// Starts every job; aborting the returned tasks stops them all (a
    /// process that loses the lead does).
    #[must_use]
    pub fn start_jobs(&self) -> Vec<tokio::task::JoinHandle<()>> {
        self.background.start(self, &self.ctx)
    }

    /// Whether this process leads the background work (see `ReplicationStore::lead`).
    ///
    /// # Errors
    /// The store cannot tell.
    pub async fn lead(&self) -> ServiceResult<bool> {
        Ok(self.ctx.store.lead().await?)
    }

    /// Every job and its last run.
    ///
    /// # Errors
    /// `Forbidden` unless operator, CLI or valv itself; store failures.
    pub async fn jobs(&self, caller: &Caller) -> ServiceResult<Vec<JobView>> {
        self.background.views(&self.ctx, caller).await
    }
}
