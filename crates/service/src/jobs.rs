//! Background duties as jobs: each timed duty of valv — shipping the
//! journal to the backup targets, purging tenants after their export window,
//! the daily full backup with its restore drill — is one [`Job`] with a
//! name, a cadence and a run, in one [`Registry`]. `valv serve` starts the
//! registry in the process that leads the installation (DESIGN.md,
//! Background jobs); each run's outcome is stored, so operators see every
//! job's last run (`valv jobs`, `GET /api/v1/jobs`) from any process.
//! A new duty (retention runs, incident clocks, notices) is one more job.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use valv_store::{JobOutcome, JobRun};

use crate::{Caller, ServiceResult, Valv};

mod backups;
mod purge;

/// When a job runs.
#[derive(Debug, Clone)]
pub enum Cadence {
    /// Started once and at work as long as the process leads (shipping).
    Continuous,
    /// At start, then again each time this long after the last start.
    Every(Duration),
    /// At each time of a schedule (cron, UTC).
    Schedule(Box<valv_backup::Schedule>),
}

impl Cadence {
    /// The cadence in words, for operators.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Continuous => "continuously".to_owned(),
            Self::Every(d) => format!("every {}", span(*d)),
            Self::Schedule(s) => format!("on the schedule {s} (UTC)"),
        }
    }
}

/// A duration in the largest whole unit that states it exactly.
fn span(d: Duration) -> String {
    match (d.as_secs(), d.subsec_nanos()) {
        (0, _) => format!("{} ms", d.as_millis()),
        (s, 0) if s % 3600 == 0 => format!("{} h", s / 3600),
        (s, 0) if s % 60 == 0 => format!("{} min", s / 60),
        (s, 0) => format!("{s} s"),
        _ => format!("{} ms", d.as_millis()),
    }
}

/// How one run went.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ok: bool,
    /// What the run did, or why it failed.
    pub detail: serde_json::Value,
}

impl Outcome {
    /// A run that failed with `error`.
    #[must_use]
    pub fn failed(error: &impl std::fmt::Display) -> Self {
        Self { ok: false, detail: serde_json::json!({ "error": error.to_string() }) }
    }
}

/// One background duty.
#[async_trait::async_trait]
pub trait Job: Send + Sync + 'static {
    /// A stable name, as `valv jobs` lists it.
    fn name(&self) -> &'static str;
    fn cadence(&self) -> Cadence;
    /// Does the work once. A continuous job returns only when it stops.
    async fn run(&self, valv: &Valv) -> Outcome;
}

/// Every job valv runs, in the order they are listed.
#[derive(Clone, Default)]
pub struct Registry {
    jobs: Vec<Arc<dyn Job>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.jobs.iter().map(|j| j.name())).finish()
    }
}

impl Registry {
    /// The jobs of an installation: shipping, purging and the full backup
    /// on `schedule`, pruned by `retention`.
    #[must_use]
    pub fn standard(schedule: valv_backup::Schedule, retention: valv_backup::Policy) -> Self {
        Self {
            jobs: vec![
                Arc::new(backups::Shipping),
                Arc::new(purge::Purge),
                Arc::new(backups::FullBackup { schedule, retention }),
            ],
        }
    }

    /// Adds a job.
    #[must_use]
    pub fn with(mut self, job: impl Job) -> Self {
        self.jobs.push(Arc::new(job));
        self
    }
}

/// A job and its last run, as operators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub name: String,
    /// When it runs, in words.
    pub cadence: String,
    /// `None` until it has run once.
    pub last_run: Option<JobRun>,
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
        let jobs = self.background.jobs.clone();
        jobs.into_iter()
            .map(|job| {
                let valv = self.clone();
                tokio::spawn(async move { valv.keep_running(job.as_ref()).await })
            })
            .collect()
    }

    /// Every job and its last run.
    ///
    /// # Errors
    /// `Forbidden` unless operator, CLI or valv itself; store failures.
    pub async fn jobs(&self, caller: &Caller) -> ServiceResult<Vec<JobView>> {
        caller.operator()?;
        let mut runs = self.store.job_runs().await?;
        Ok(self
            .background
            .jobs
            .iter()
            .map(|j| JobView {
                name: j.name().to_owned(),
                cadence: j.cadence().describe(),
                last_run: runs.iter().position(|r| r.job == j.name()).map(|i| runs.swap_remove(i)),
            })
            .collect())
    }

    /// Runs `job` at each time its cadence names, for as long as the task lives.
    async fn keep_running(&self, job: &dyn Job) {
        loop {
            let wait = match job.cadence() {
                Cadence::Continuous | Cadence::Every(_) => Duration::ZERO,
                Cadence::Schedule(s) => {
                    let now = self.now();
                    let Some(next) = s.next_after(now) else { return };
                    (next - now).try_into().unwrap_or_default()
                }
            };
            tokio::time::sleep(wait).await;
            self.run_once(job).await;
            match job.cadence() {
                // A continuous job that stopped is started again after a pause.
                Cadence::Continuous => tokio::time::sleep(Duration::from_secs(5)).await,
                Cadence::Every(d) => tokio::time::sleep(d).await,
                Cadence::Schedule(_) => {}
            }
        }
    }

    /// Runs `job` once and records how it went.
    async fn run_once(&self, job: &dyn Job) {
        let started_at = self.now();
        if matches!(job.cadence(), Cadence::Continuous) {
            let running = run_record(job, started_at, None, JobOutcome::Running, serde_json::Value::Null);
            self.record_job_run(running).await;
        }
        let outcome = job.run(self).await;
        let result = if outcome.ok { JobOutcome::Ok } else { JobOutcome::Failed };
        if outcome.ok {
            tracing::info!(job = job.name(), detail = %outcome.detail, "job done");
        } else {
            tracing::error!(job = job.name(), detail = %outcome.detail, "job FAILED");
        }
        self.record_job_run(run_record(job, started_at, Some(self.now()), result, outcome.detail)).await;
    }

    async fn record_job_run(&self, run: JobRun) {
        if let Err(e) = self.store.put_job_run(run).await {
            tracing::warn!(error = %e, "cannot record a job's run");
        }
    }
}

fn run_record(
    job: &dyn Job,
    started_at: OffsetDateTime,
    finished_at: Option<OffsetDateTime>,
    outcome: JobOutcome,
    detail: serde_json::Value,
) -> JobRun {
    JobRun { job: job.name().to_owned(), started_at, finished_at, outcome, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cadence_is_described_in_its_largest_exact_unit() {
        let every = |d| Cadence::Every(d).describe();
        assert_eq!(every(Duration::from_secs(3600)), "every 1 h");
        assert_eq!(every(Duration::from_secs(300)), "every 5 min");
        assert_eq!(every(Duration::from_secs(90)), "every 90 s");
        assert_eq!(every(Duration::from_millis(1500)), "every 1500 ms");
        assert_eq!(Cadence::Continuous.describe(), "continuously");
        let daily: valv_backup::Schedule = "0 15 * * *".parse().expect("schedule");
        assert_eq!(Cadence::Schedule(Box::new(daily)).describe(), "on the schedule 0 15 * * * (UTC)");
    }
}
