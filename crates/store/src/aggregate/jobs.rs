//! Background jobs: the last run of each.

use crate::{JobRun, StoreResult};

/// Background jobs: the last run of each.
#[async_trait::async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// The last run of every background job that has run, by name.
    async fn job_runs(&self) -> StoreResult<Vec<JobRun>>;

    /// Records `run` as the last run of its job.
    async fn put_job_run(&self, run: JobRun) -> StoreResult<()>;
}
