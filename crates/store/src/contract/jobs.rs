//! The contract of JobStore: the last run of each job.

use super::*;

/// Runs this aggregate's contract tests.
pub(super) async fn run(s: &dyn Store) {
    the_last_run_of_each_job_is_kept(s).await;
}

async fn the_last_run_of_each_job_is_kept(s: &dyn Store) {
    let run = |job: &str, minute: i64, outcome| crate::JobRun {
        job: job.to_owned(),
        started_at: T0 + time::Duration::minutes(minute),
        finished_at: Some(T0 + time::Duration::minutes(minute + 1)),
        outcome,
        detail: serde_json::json!({ "minute": minute }),
    };
    assert!(s.job_runs().await.expect("runs").is_empty(), "no job has run");
    s.put_job_run(run("purge", 0, crate::JobOutcome::Ok)).await.expect("put");
    s.put_job_run(run("full-backup", 1, crate::JobOutcome::Failed)).await.expect("put");
    s.put_job_run(run("purge", 60, crate::JobOutcome::Ok)).await.expect("put again");
    let runs = s.job_runs().await.expect("runs");
    assert_eq!(runs, vec![run("full-backup", 1, crate::JobOutcome::Failed), run("purge", 60, crate::JobOutcome::Ok)]);
}
