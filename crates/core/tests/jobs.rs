//! Background jobs: the registry runs each job at its cadence and records
//! every run's outcome in the store, where operators read it.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use time::macros::datetime;
use valv_core::jobs::{Cadence, Job, Outcome, Registry};
use valv_core::keyring::Keyring;
use valv_core::{Caller, Context, Settings};
use valv_domain::ManualClock;
use valv_store::JobOutcome;
use valv_store_sqlite::SqliteStore;

/// Counts its runs; fails when told to.
struct Counting {
    name: &'static str,
    fails: bool,
    runs: Arc<AtomicU32>,
}

#[async_trait::async_trait]
impl Job<()> for Counting {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cadence(&self) -> Cadence {
        Cadence::Every(Duration::from_millis(20))
    }

    async fn run(&self, (): &()) -> Outcome {
        let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fails { Outcome::failed(&"the target is full") } else { Outcome { ok: true, detail: n.into() } }
    }
}

async fn context(dir: &tempfile::TempDir) -> Context {
    let store = SqliteStore::open(&dir.path().join("valv.db")).await.unwrap();
    let keys = valv_store_sqlite::SqliteKeyStore::open(&dir.path().join("keyring.db")).unwrap();
    let keyring = Keyring::open(Arc::new(keys), valv_crypto::seal::Key::generate()).await.unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-03-01 12:00 UTC)));
    let outbox = Arc::new(valv_core::sender::FileOutbox::new(dir.path().join("outbox")));
    Context::new(Arc::new(store), Arc::new(keyring), clock, outbox, Settings::default())
}

#[tokio::test]
async fn jobs_run_at_their_cadence_and_each_last_run_is_recorded_with_its_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let jobs = Registry::<()>::default()
        .with(Counting { name: "good", fails: false, runs: good.clone() })
        .with(Counting { name: "bad", fails: true, runs: bad.clone() });
    let ctx = context(&dir).await;
    let before = jobs.views(&ctx, &Caller::Cli).await.unwrap();
    assert!(before.iter().all(|j| j.last_run.is_none()), "nothing has run before the jobs start");

    let tasks = jobs.start(&(), &ctx);
    for _ in 0..500 {
        if good.load(Ordering::SeqCst) >= 3 && bad.load(Ordering::SeqCst) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tasks.iter().for_each(tokio::task::JoinHandle::abort);
    assert!(good.load(Ordering::SeqCst) >= 3, "a job runs again after its interval");

    let views = jobs.views(&ctx, &Caller::Cli).await.unwrap();
    let names: Vec<&str> = views.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["good", "bad"], "listed in the registry's order");
    let good_run = views[0].last_run.as_ref().unwrap();
    assert_eq!(good_run.outcome, JobOutcome::Ok);
    assert!(good_run.detail.as_u64().unwrap() >= 3, "the last run's detail: {}", good_run.detail);
    assert_eq!(good_run.started_at, datetime!(2026-03-01 12:00 UTC), "times come from the injected clock");
    let bad_run = views[1].last_run.as_ref().unwrap();
    assert_eq!(bad_run.outcome, JobOutcome::Failed);
    assert_eq!(bad_run.detail["error"], "the target is full", "a failure says why");
    assert_eq!(views[0].cadence, "every 20 ms");
}
