//! The purge job: once an hour, tenants whose export window has closed lose
//! their key and their data (`purge.rs`), and finished export jobs are
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
        match valv.accounts().purge_expired(&Caller::System).await {
            Ok(receipts) => {
                let purged: Vec<&str> = receipts.iter().map(|r| r.tenant_id.as_str()).collect();
                Outcome { ok: true, detail: serde_json::json!({ "tenants_purged": purged }) }
            }
            Err(e) => Outcome::failed(&e),
        }
    }
}
