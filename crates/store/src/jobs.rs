//! The last run of each background job, as operators see it (`valv jobs`).
//! Operational state, like the backup bookkeeping: not journaled, not in
//! any backup.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How a job's last run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    /// A job that runs all the time (shipping) is at work.
    Running,
    Ok,
    Failed,
}

/// The last run of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobRun {
    pub job: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: OffsetDateTime,
    /// `None` while a job that runs all the time is at work.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<OffsetDateTime>,
    pub outcome: JobOutcome,
    /// What the run did (counts, ids, positions) or, when it failed, why.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}
