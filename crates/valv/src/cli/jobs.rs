//! `valv jobs`: every background job, when it runs, and how its last run went.

use std::process::ExitCode;

use valv_service::jobs::JobView;
use valv_service::{Caller, Valv};
use valv_store::JobOutcome;

use super::{explain, print};

/// Lists the jobs and their last runs.
pub async fn run(valv: &Valv, json: bool) -> anyhow::Result<ExitCode> {
    let jobs = valv.jobs(&Caller::Cli).await.map_err(explain)?;
    print(json, &jobs, || jobs.iter().map(line).collect::<Vec<_>>().join("\n"))?;
    Ok(ExitCode::SUCCESS)
}

fn line(job: &JobView) -> String {
    let last = match &job.last_run {
        None => "has not run yet".to_owned(),
        Some(r) => {
            let outcome = match r.outcome {
                JobOutcome::Running => "running",
                JobOutcome::Ok => "ok",
                JobOutcome::Failed => "FAILED",
            };
            format!("last run {} {outcome}: {}", valv_domain::stamp(r.started_at), r.detail)
        }
    };
    format!("{:<12} {:<36} {last}", job.name, job.cadence)
}
