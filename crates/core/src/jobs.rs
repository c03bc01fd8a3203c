//! Background duties as jobs (DESIGN.md, Background jobs): each timed duty
//! is one [`Job`] with a name, a cadence and a run, kept in one
//! [`Registry`]. The registry runs every job at its cadence on the
//! application `A` it is given (the service facade) and stores each run's
//! outcome, so operators see every job's last run from any process. A new
//! duty (retention runs, incident clocks, notices) is one more job.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use valv_store::{JobOutcome, JobRun};

use crate::{Caller, Context, ServiceResult};

/// When a job runs.
#[derive(Debug, Clone)]
pub enum Cadence {
    /// Started once and at work as long as the process leads (shipping).
    Continuous,
    /// At start, then again each time this long after the last start.
    Every(Duration),
    /// At each time of a calendar (a cron schedule in UTC, say).
    Schedule(Arc<dyn Calendar>),
}

/// A calendar schedule: the next time after an instant, and how it is said.
pub trait Calendar: Send + Sync + std::fmt::Display + std::fmt::Debug {
    /// The first time strictly after `t`; `None` when it never comes.
    fn next_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime>;
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

/// One background duty, run on the application `A`.
#[async_trait::async_trait]
pub trait Job<A>: Send + Sync + 'static {
    /// A stable name, as `valv jobs` lists it.
    fn name(&self) -> &'static str;
    fn cadence(&self) -> Cadence;
    /// Does the work once. A continuous job returns only when it stops.
    async fn run(&self, app: &A) -> Outcome;
}

/// Every job of an installation, in the order they are listed.
pub struct Registry<A: 'static> {
    jobs: Vec<Arc<dyn Job<A>>>,
}

impl<A: 'static> Default for Registry<A> {
    fn default() -> Self {
        Self { jobs: Vec::new() }
    }
}

impl<A: 'static> Clone for Registry<A> {
    fn clone(&self) -> Self {
        Self { jobs: self.jobs.clone() }
    }
}

impl<A: 'static> std::fmt::Debug for Registry<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.jobs.iter().map(|j| j.name())).finish()
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

impl<A: Clone + Send + Sync + 'static> Registry<A> {
    /// Adds a job.
    #[must_use]
    pub fn with(mut self, job: impl Job<A>) -> Self {
        self.jobs.push(Arc::new(job));
        self
    }

    /// Starts every job on `app`; aborting the returned tasks stops them all
    /// (a process that loses the lead does).
    #[must_use]
    pub fn start(&self, app: &A, ctx: &Context) -> Vec<tokio::task::JoinHandle<()>> {
        self.jobs
            .iter()
            .map(|job| {
                let (job, app, ctx) = (Arc::clone(job), app.clone(), ctx.clone());
                tokio::spawn(async move { keep_running(job.as_ref(), &app, &ctx).await })
            })
            .collect()
    }

    /// Every job and its last run.
    ///
    /// # Errors
    /// `Forbidden` unless operator, CLI or valv itself; store failures.
    pub async fn views(&self, ctx: &Context, caller: &Caller) -> ServiceResult<Vec<JobView>> {
        caller.operator()?;
        let mut runs = ctx.store.job_runs().await?;
        Ok(self
            .jobs
            .iter()
            .map(|j| JobView {
                name: j.name().to_owned(),
                cadence: j.cadence().describe(),
                last_run: runs.iter().position(|r| r.job == j.name()).map(|i| runs.swap_remove(i)),
            })
            .collect())
    }
}

/// Runs `job` at each time its cadence names, for as long as the task lives.
async fn keep_running<A: Send + Sync + 'static>(job: &dyn Job<A>, app: &A, ctx: &Context) {
    loop {
        let wait = match job.cadence() {
            Cadence::Continuous | Cadence::Every(_) => Duration::ZERO,
            Cadence::Schedule(s) => {
                let now = ctx.now();
                let Some(next) = s.next_after(now) else { return };
                (next - now).try_into().unwrap_or_default()
            }
        };
        tokio::time::sleep(wait).await;
        run_once(job, app, ctx).await;
        match job.cadence() {
            // A continuous job that stopped is started again after a pause.
            Cadence::Continuous => tokio::time::sleep(Duration::from_secs(5)).await,
            Cadence::Every(d) => tokio::time::sleep(d).await,
            Cadence::Schedule(_) => {}
        }
    }
}

/// Runs `job` once and records how it went.
async fn run_once<A: Send + Sync + 'static>(job: &dyn Job<A>, app: &A, ctx: &Context) {
    let started_at = ctx.now();
    if matches!(job.cadence(), Cadence::Continuous) {
        record(ctx, run_record(job.name(), started_at, None, JobOutcome::Running, serde_json::Value::Null)).await;
    }
    let outcome = job.run(app).await;
    let result = if outcome.ok { JobOutcome::Ok } else { JobOutcome::Failed };
    if outcome.ok {
        tracing::info!(job = job.name(), detail = %outcome.detail, "job done");
    } else {
        tracing::error!(job = job.name(), detail = %outcome.detail, "job FAILED");
    }
    record(ctx, run_record(job.name(), started_at, Some(ctx.now()), result, outcome.detail)).await;
}

async fn record(ctx: &Context, run: JobRun) {
    if let Err(e) = ctx.store.put_job_run(run).await {
        tracing::warn!(error = %e, "cannot record a job's run");
    }
}

fn run_record(
    job: &str,
    started_at: OffsetDateTime,
    finished_at: Option<OffsetDateTime>,
    outcome: JobOutcome,
    detail: serde_json::Value,
) -> JobRun {
    JobRun { job: job.to_owned(), started_at, finished_at, outcome, detail }
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
    }
}
