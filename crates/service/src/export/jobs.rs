//! Exports started through the API run in the background: the job reports
//! its progress, and its archive can be downloaded once done. Archives are
//! written to a private folder of the installation (mode 0600). Jobs live in
//! memory: a restart forgets them (their archives stay on disk).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use utoipa::ToSchema;
use valv_domain::TenantId;

use super::{Progress, ProgressView};
use crate::{Caller, ServiceError, ServiceResult, Valv};

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
}

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

impl Valv {
    fn archive_path(&self, id: &str) -> ServiceResult<PathBuf> {
        let dir = self
            .settings
            .export_dir
            .clone()
            .ok_or_else(|| ServiceError::Internal("no export folder configured".into()))?;
        Ok(dir.join(format!("{id}.tar")))
    }

    /// Starts an export of the caller's tenant in the background.
    ///
    /// # Errors
    /// `Forbidden` unless owner/admin; `export_running`.
    pub async fn start_export(&self, caller: &Caller) -> ServiceResult<JobView> {
        let (tenant, _) = caller.export_admin()?;
        self.export_allowed(caller, tenant).await?;
        let id = valv_crypto::token::random(16);
        let path = self.archive_path(&id)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(|e| ServiceError::Internal(e.to_string()))?;
        }
        let file = private_file(&path).await?;
        let progress = Arc::new(Progress::default());
        let job = Job { tenant, progress: Arc::clone(&progress), state: JobState::Running, error: None };
        self.jobs.0.lock().unwrap_or_else(PoisonError::into_inner).insert(id.clone(), job);
        let (valv, who, job_id) = (self.clone(), caller.clone(), id.clone());
        tokio::spawn(async move {
            let result = valv.export(&who, tenant, tokio::io::BufWriter::new(file), &progress).await;
            let result = match result {
                Ok(mut w) => {
                    tokio::io::AsyncWriteExt::flush(&mut w).await.map_err(|e| ServiceError::Internal(e.to_string()))
                }
                Err(e) => Err(e),
            };
            let mut jobs = valv.jobs.0.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(j) = jobs.get_mut(&job_id) {
                match result {
                    Ok(()) => j.state = JobState::Done,
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
    pub async fn export_archive(&self, caller: &Caller, id: &str) -> ServiceResult<(tokio::fs::File, u64)> {
        let job = self.export_job(caller, id)?;
        if job.state != JobState::Done {
            return Err(ServiceError::Conflict { code: "export_not_ready", message: "the export has not finished" });
        }
        let path = self.archive_path(id)?;
        let f = tokio::fs::File::open(&path).await.map_err(|e| ServiceError::Internal(e.to_string()))?;
        let len = f.metadata().await.map_err(|e| ServiceError::Internal(e.to_string()))?.len();
        Ok((f, len))
    }
}

async fn private_file(path: &std::path::Path) -> ServiceResult<tokio::fs::File> {
    let mut o = tokio::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    o.mode(0o600);
    o.open(path).await.map_err(|e| ServiceError::Internal(e.to_string()))
}
