//! The last run of each background job.

use sqlx::PgPool;
use valv_store::{JobRun, StoreResult};

use crate::PgStore;
use crate::{backend, corrupt};
use valv_store::JobStore;

pub(crate) async fn runs(pool: &PgPool) -> StoreResult<Vec<JobRun>> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT row_json FROM jobs ORDER BY name").fetch_all(pool).await.map_err(backend)?;
    rows.iter().map(|r| serde_json::from_str(r).map_err(corrupt)).collect()
}

pub(crate) async fn put(pool: &PgPool, run: &JobRun) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO jobs (name, row_json) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET row_json = excluded.row_json",
    )
    .bind(&run.job)
    .bind(serde_json::to_string(run).map_err(corrupt)?)
    .execute(pool)
    .await
    .map_err(backend)
    .map(drop)
}

#[async_trait::async_trait]
impl JobStore for PgStore {
    async fn job_runs(&self) -> StoreResult<Vec<JobRun>> {
        runs(&self.pool).await
    }

    async fn put_job_run(&self, run: JobRun) -> StoreResult<()> {
        put(&self.pool, &run).await
    }
}
