//! Garbage collection of chunks no version refers to: left by uploads that
//! failed, were cut short or were refused. Only chunks older than a grace
//! period go, so the chunks of an upload still under way are never touched:
//! a chunk an upload reuses is written again when it is older than
//! [`REFRESH_AFTER`] (`valv_blob::write_stream`), so with a grace longer
//! than that plus the longest upload, no chunk a commit will refer to goes.

use std::collections::HashSet;

use serde::Serialize;
use time::Duration;

use crate::{Caller, Content, ServiceError, ServiceResult};

/// A stored chunk an upload reuses is written again when it is older than
/// this (review M1: an orphan reused by an upload must not look old).
pub const REFRESH_AFTER: Duration = Duration::HOUR;

/// The refresh point for an upload starting at `now` (Unix seconds).
pub(crate) fn refresh_before(now: time::OffsetDateTime) -> i64 {
    (now - REFRESH_AFTER).unix_timestamp()
}

/// What a collection run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub tenants: usize,
    pub chunks_examined: usize,
    pub chunks_deleted: usize,
}

impl Content<'_> {
    /// Deletes every unreferenced chunk older than `grace`, in every tenant.
    ///
    /// # Errors
    /// `Forbidden` unless operator or CLI; store failures.
    pub async fn collect_garbage(&self, caller: &Caller, grace: Duration) -> ServiceResult<GcReport> {
        caller.operator()?;
        let blobs = self.ctx.blobs()?;
        let cutoff = (self.ctx.now() - grace).unix_timestamp();
        let mut report = GcReport::default();
        for t in self.ctx.store.tenants().await? {
            report.tenants += 1;
            let tenant = t.id.to_string();
            // Referenced ids are read before listing: a chunk a version starts to
            // use meanwhile is younger than the grace period and so kept anyway.
            let referenced: HashSet<String> = self.ctx.store.referenced_chunks(t.id).await?.into_iter().collect();
            let stored = blobs.list_aged(&tenant).await.map_err(ServiceError::internal)?;
            for (id, written) in stored {
                report.chunks_examined += 1;
                if written <= cutoff && !referenced.contains(id.as_str()) {
                    blobs.delete(&tenant, &id).await.map_err(ServiceError::internal)?;
                    report.chunks_deleted += 1;
                }
            }
        }
        Ok(report)
    }
}
