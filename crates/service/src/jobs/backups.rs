//! The backup jobs: shipping the journal to every target as it grows, and
//! the full backup on its schedule (by default every day at 15:00 UTC),
//! each followed by a restore drill on every target and pruning by the
//! retention policy.

use super::{Cadence, Calendar, Job, Outcome};
use crate::{Caller, Valv};

/// Ships new journal entries to every target, continuously.
pub(super) struct Shipping;

/// Aborts the tasks it holds when dropped: a stopped shipping job stops
/// its per-target tasks with it.
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.iter().for_each(tokio::task::JoinHandle::abort);
    }
}

#[async_trait::async_trait]
impl Job<Valv> for Shipping {
    fn name(&self) -> &'static str {
        "shipping"
    }

    fn cadence(&self) -> Cadence {
        Cadence::Continuous
    }

    async fn run(&self, valv: &Valv) -> Outcome {
        let mut tasks = AbortOnDrop(valv.backups().ship_forever());
        for task in &mut tasks.0 {
            if let Err(e) = task.await {
                return Outcome::failed(&e);
            }
        }
        let targets: Vec<&str> = valv.targets().iter().map(valv_backup_format::Target::name).collect();
        Outcome { ok: true, detail: serde_json::json!({ "targets": targets }) }
    }
}

/// The full backup, its restore drill and pruning.
pub(super) struct FullBackup {
    pub(super) schedule: std::sync::Arc<Daily>,
    pub(super) retention: valv_backup_format::Policy,
}

/// The full backup's schedule (cron, UTC) as a job's calendar.
#[derive(Debug)]
pub(super) struct Daily(pub(super) valv_backup_format::Schedule);

impl std::fmt::Display for Daily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Calendar for Daily {
    fn next_after(&self, t: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
        self.0.next_after(t)
    }
}

#[async_trait::async_trait]
impl Job<Valv> for FullBackup {
    fn name(&self) -> &'static str {
        "full-backup"
    }

    fn cadence(&self) -> Cadence {
        Cadence::Schedule(self.schedule.clone())
    }

    async fn run(&self, valv: &Valv) -> Outcome {
        if valv.targets().is_empty() {
            return Outcome { ok: true, detail: serde_json::json!({ "skipped": "no backup targets are configured" }) };
        }
        let system = Caller::System;
        let snapshot = match valv.backups().backup_now(&system, &|_| {}).await {
            Ok(r) => r,
            Err(e) => return Outcome::failed(&e),
        };
        let drills = match valv.backups().verify_backups(&system, false).await {
            Ok(d) => d,
            Err(e) => return Outcome::failed(&format!("the restore drill could not run: {e}")),
        };
        let pruned = match valv.backups().prune_backups(&system, &self.retention).await {
            Ok(p) => p,
            Err(e) => return Outcome::failed(&format!("pruning failed: {e}")),
        };
        let ok = snapshot.targets_failed.is_empty() && drills.iter().all(|d| d.ok);
        Outcome { ok, detail: serde_json::json!({ "snapshot": snapshot, "drills": drills, "pruned": pruned }) }
    }
}
