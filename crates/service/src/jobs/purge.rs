//! The purge job: once an hour, tenants whose export window has closed lose
//! their key and their data (`purge.rs`), data-subject requests never
//! confirmed are forgotten after a week, and finished export jobs are
//! forgotten.

use std::time::Duration;

use super::{Cadence, Job, Outcome};
use crate::{Caller, Valv};

pub(super) struct Purge;

#[async_trait::async_trait]
impl Job<Valv> for Purge {
    fn name(&self) -> &'static str {
        "purge"
    }

    fn cadence(&self) -> Cadence {
        Cadence::Every(Duration::from_secs(3600))
    }

    async fn run(&self, valv: &Valv) -> Outcome {
        valv.portability().expire_exports();
        let receipts = match valv.accounts().purge_expired(&Caller::System).await {
            Ok(r) => r,
            Err(e) => return Outcome::failed(&e),
        };
        let purged: Vec<&str> = receipts.iter().map(|r| r.tenant_id.as_str()).collect();
        match valv.privacy().expire_unverified_requests(&Caller::System).await {
            Ok(n) => {
                Outcome { ok: true, detail: serde_json::json!({ "tenants_purged": purged, "requests_forgotten": n }) }
            }
            Err(e) => Outcome::failed(&e),
        }
    }
}
