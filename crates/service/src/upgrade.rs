//! Sealing what an earlier release stored in clear (DESIGN.md, Sealed at
//! rest): `valv serve` runs it before it listens, so no row stays readable
//! without the keys once an upgraded installation serves.

use crate::{ServiceResult, Valv};

/// Rows looked at per committed step.
const BATCH: u32 = 2_000;

impl Valv {
    /// Seals every row and journal payload still stored in clear, then
    /// indexes the collections again (their field indexes are on the sealed
    /// rows' search column now). `progress` hears the rows looked at so far.
    /// Resumable: a crash halfway leaves a database that opens and finishes.
    ///
    /// # Errors
    /// Store failures; a row that does not decode.
    pub async fn seal_stored(&self, progress: &(dyn Fn(u64) + Sync)) -> ServiceResult<u64> {
        let mut seen = 0;
        while let Some(n) = self.ctx.store.seal_stored(BATCH).await? {
            seen += n;
            progress(seen);
        }
        if seen > 0 {
            self.content().index_all_collections().await?;
        }
        Ok(seen)
    }
}
