//! Exports started through the API run in the background: the job reports
//! its progress, and its archive can be downloaded once done, for a day.
//! One export of a tenant runs at a time, and a new one replaces the
//! tenant's previous archive.
//! The archive is written into a sealed spool (see `spool.rs`): never
//! readable at rest, gone when the job expires or the process ends. Jobs
//! live in memory: a restart forgets them and their archives together.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use utoipa::ToSchema;
use valv_domain::TenantId;

use super::{Progress, ProgressView, Spool};
use crate::{Caller, Portability, ServiceError, ServiceResult, Valv};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Running,
    Done,
    Failed,
}

struct Job {
    tenant: TenantId,
    progress: Arc<Progress>,
    state: JobState,
    error: Option<String>,
    archive: Option<Arc<Spool>>,
    finished: Option<time::OffsetDateTime>,
}

/// How long a finished archive can be downloaded.
const KEEP: time::Duration = time::Duration::DAY;

/// Finished archives kept at most, over all tenants; the oldest go first.
const MAX_KEPT: usize = 32;

/// The running and finished export jobs.
#[derive(Default)]
pub struct Jobs(Mutex<HashMap<String, Job>>);

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Jobs")
    }
}

/// What the API shows of a job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    pub state: JobState,
    pub progress: ProgressView,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

impl Portability<'_> {
    /// Starts an export of the caller's tenant in the background.
    ///
    /// # Errors
    /// `Forbidden` unless owner/admin; `export_running`.
    pub async fn start_export(&self, caller: &Caller) -> ServiceResult<JobView> {
        let (tenant, _) = caller.export_admin()?;
        self.export_allowed(caller, tenant).await?;
        self.expire_exports();
        let id = valv_crypto::token::random(16);
        let spool = Spool::new(self.ctx.settings.export_dir.as_deref()).map_err(ServiceError::internal)?;
        let progress = Arc::new(Progress::default());
        let job = Job {
            tenant,
            progress: Arc::clone(&progress),
            state: JobState::Running,
            error: None,
            archive: None,
            finished: None,
        };
        {
            let mut jobs = self.jobs.0.lock().unwrap_or_else(PoisonError::into_inner);
            if jobs.values().any(|j| j.tenant == tenant && j.state == JobState::Running) {
                return Err(ServiceError::Conflict {
                    code: "export_running",
                    message: "an export of this organisation is running; wait for it and download its archive",
                });
            }
            // Review L7: archives take disk space. A tenant keeps its newest
            // archive only, and the installation at most MAX_KEPT.
            jobs.retain(|_, j| j.tenant != tenant);
            while jobs.values().filter(|j| j.finished.is_some()).count() >= MAX_KEPT {
                let oldest = jobs.iter().filter_map(|(k, j)| j.finished.map(|f| (f, k.clone()))).min();
                let Some((_, k)) = oldest else { break };
                jobs.remove(&k);
            }
            jobs.insert(id.clone(), job);
        }
        let (valv, who, job_id) = (Valv::clone(self), caller.clone(), id.clone());
        tokio::spawn(async move {
            let result = valv.portability().export(&who, tenant, spool, &progress).await;
            let result = result.and_then(|mut s| s.close().map(|()| s).map_err(ServiceError::internal));
            let mut jobs = valv.jobs.0.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(j) = jobs.get_mut(&job_id) {
                j.finished = Some(valv.ctx.now());
                match result {
                    Ok(spool) => {
                        j.state = JobState::Done;
                        j.archive = Some(Arc::new(spool));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "export failed");
                        j.state = JobState::Failed;
                        j.error = Some(e.code().to_owned());
                    }
                }
            }
        });
        self.export_job(caller, &id)
    }

    /// An export job of the caller's tenant.
    ///
    /// # Errors
    /// `NotFound` for unknown ids and other tenants' jobs.
    pub fn export_job(&self, caller: &Caller, id: &str) -> ServiceResult<JobView> {
        let (tenant, _) = caller.export_admin()?;
        let jobs = self.jobs.0.lock().unwrap_or_else(PoisonError::into_inner);
        let j = jobs.get(id).filter(|j| j.tenant == tenant).ok_or(ServiceError::NotFound)?;
        Ok(JobView { id: id.to_owned(), state: j.state, progress: j.progress.view(), error: j.error.clone() })
    }

    /// The finished archive of an export job.
    ///
    /// # Errors
    /// `NotFound`; `export_not_ready` while it runs or after it failed.
    pub fn export_archive(
        &self,
        caller: &Caller,
        id: &str,
    ) -> ServiceResult<(impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static + use<>, u64)> {
        let (tenant, _) = caller.export_admin()?;
        self.expire_exports();
        let jobs = self.jobs.0.lock().unwrap_or_else(PoisonError::into_inner);
        let j = jobs.get(id).filter(|j| j.tenant == tenant).ok_or(ServiceError::NotFound)?;
        let spool = j
            .archive
            .as_ref()
            .ok_or(ServiceError::Conflict { code: "export_not_ready", message: "the export has not finished" })?;
        Ok((spool.reader(), spool.len()))
    }

    /// Forgets jobs finished more than a day ago; their archives go with them.
    pub fn expire_exports(&self) {
        let now = self.ctx.now();
        let mut jobs = self.jobs.0.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.retain(|_, j| j.finished.is_none_or(|f| now - f < KEEP));
    }
}
