//! The last run of each background job.

use rusqlite::{Connection, params};
use valv_store::{JobRun, StoreResult};

use crate::SqliteStore;
use crate::{backend, corrupt};
use valv_store::JobStore;

pub(crate) fn runs(c: &Connection) -> StoreResult<Vec<JobRun>> {
    let mut stmt = c.prepare_cached("SELECT row_json FROM jobs ORDER BY name").map_err(backend)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(backend)?;
    rows.map(|r| serde_json::from_str(&r.map_err(backend)?).map_err(corrupt)).collect()
}

pub(crate) fn put(c: &Connection, run: &JobRun) -> StoreResult<()> {
    let json = serde_json::to_string(run).map_err(corrupt)?;
    c.execute(
        "INSERT INTO jobs (name, row_json) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET row_json = excluded.row_json",
        params![run.job, json],
    )
    .map_err(backend)
    .map(drop)
}

#[async_trait::async_trait]
impl JobStore for SqliteStore {
    async fn job_runs(&self) -> StoreResult<Vec<JobRun>> {
        self.read(runs).await
    }

    async fn put_job_run(&self, run: JobRun) -> StoreResult<()> {
        self.write(move |c| put(c, &run)).await
    }
}
