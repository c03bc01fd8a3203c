//! Point-in-time restore as a property, through the real backup objects:
//! for a random history of record and file changes, shipped to a local
//! target after every step, with a full backup at a random step and the
//! shipped segments merged every few steps (as the background task does), the state
//! restored at the instant of any step equals the live state at that
//! instant (same digest), and the restored chunks are the live ones. Beside
//! it: a restore reads a damaged segment from another target, an in-place
//! tenant restore merges thousands of records, and a restored installation
//! exists only once it is whole.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use valv_store::prelude::*;

use proptest::prelude::*;
use serde_json::json;
use time::{Duration, OffsetDateTime, macros::datetime};
use valv_backup_format::Target;
use valv_crypto::seal::Key;
use valv_domain::{Clock as _, ManualClock, RecordId};
use valv_service::backup::{RestoreRequest, StoreSlot, restore};
use valv_service::keyring::Keyring;
use valv_service::{Caller, Settings, Valv};
use valv_store_sqlite::{SqliteKeyStore, SqliteStore};

use common::Inbox;
use common::live::{Step, apply, live};

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => any::<u8>().prop_map(Step::Create),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Step::Update(i, v)),
        1 => any::<usize>().prop_map(Step::Delete),
        1 => any::<u8>().prop_map(Step::Upload),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Step::NewVersion(i, v)),
    ]
}

async fn run(steps: Vec<Step>, snapshot_at: usize, restore_at: usize, compact_every: usize) {
    let dir = tempfile::tempdir().unwrap();
    let master = Key::generate();
    let target = Target::open("local", &dir.path().join("target").display().to_string()).unwrap();
    let mut l = live(dir.path(), master.clone(), target.clone()).await;
    let (snapshot_at, restore_at) = (snapshot_at % (steps.len() + 1), restore_at % (steps.len() + 1));
    let mut expected: Option<(OffsetDateTime, String)> = None;
    for (i, s) in steps.iter().enumerate() {
        if i == snapshot_at {
            l.valv.backups().backup_now(&Caller::Cli, &|_| {}).await.unwrap();
        }
        l.clock.advance(Duration::seconds(1));
        apply(&mut l, s).await;
        while l.valv.backups().ship_once(&target, i == 0).await.unwrap() > 0 {}
        if (i + 1) % compact_every == 0 {
            l.valv.backups().compact_segments(&target).await.unwrap();
        }
        if i == restore_at {
            let digest = l.valv.backups().store_digest().await.unwrap();
            expected = Some((l.clock.now(), digest));
        }
    }
    let Some((at, digest)) = expected else { return };
    let restored = Arc::new(SqliteStore::open(&dir.path().join("restored.db")).await.unwrap());
    let keys = Arc::new(SqliteKeyStore::open(&dir.path().join("restored-keyring.db")).unwrap());
    let blobs = valv_blob::ChunkStore::open(&dir.path().join("restored-blobs").display().to_string()).unwrap();
    let req = RestoreRequest { at, targets: vec![target], master };
    let report = restore(&StoreSlot::ready(restored.clone()), keys, &blobs, &req, &|_, _, _| {}).await.unwrap();
    assert_eq!(restored.state_digest().await.unwrap().digest, digest, "restored at step {restore_at}: {report:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn the_state_restored_at_any_instant_is_the_live_state_then(
        steps in proptest::collection::vec(step(), 1..16),
        snapshot_at in any::<usize>(),
        restore_at in any::<usize>(),
        compact_every in 1usize..8,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run(steps, snapshot_at, restore_at, compact_every));
    }
}

/// An in-place tenant restore merges both sides in id order, page by page:
/// over several pages, records equal on both sides stay as they are, records
/// changed since come back as they were, records made since are deleted, and
/// records only the copy holds come back.
#[tokio::test]
async fn a_tenant_restore_merges_thousands_of_records_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::open("local", &dir.path().join("target").display().to_string()).unwrap();
    let l = live(dir.path(), Key::generate(), target).await;
    let (tenant, _, _) = l.owner.member().unwrap();
    // A second handle on the live database (SQLite in WAL mode allows it).
    let live_store = SqliteStore::open(&dir.path().join("valv.db")).await.unwrap();
    live_store.seal_with(l.valv.context().keyring.clone());
    let collection = live_store.collections(tenant).await.unwrap().remove(0);
    let copy = SqliteStore::open(&dir.path().join("copy.db")).await.unwrap();
    copy.seal_with(l.valv.context().keyring.clone());
    let put = |chain, row| {
        valv_store::Change::new(chain, l.clock.now(), valv_store::Actor::Cli, valv_store::Action::RecordUpdated)
            .about("t", "x")
            .row(row)
    };
    let provider = valv_store::Chain::Provider;
    let t = valv_store::Chain::Tenant(tenant);
    let tenant_row = live_store.tenant(tenant).await.unwrap().unwrap();
    copy.commit_all(vec![
        put(provider, valv_store::Row::Tenant(tenant_row)),
        put(t, valv_store::Row::Collection(collection.clone())),
    ])
    .await
    .unwrap();
    let record = |id, n: u64| valv_store::RecordRow {
        id,
        tenant_id: tenant,
        collection_id: collection.id,
        revision: 1,
        data: json!({ "n": n }),
        deleted_at: None,
        created_at: l.clock.now(),
        created_by: "user:x".into(),
        updated_at: l.clock.now(),
        updated_by: "user:x".into(),
    };
    // Kind by i % 4: 0 the same on both sides, 1 changed since, 2 made since, 3 only in the copy.
    let ids: Vec<RecordId> = (0..2_500).map(|_| RecordId::new()).collect();
    let (mut then, mut now) = (Vec::new(), Vec::new());
    for (i, id) in ids.iter().enumerate() {
        let n = i as u64;
        match i % 4 {
            0 => (then.push(record(*id, n)), now.push(record(*id, n))).0,
            1 => (then.push(record(*id, n)), now.push(record(*id, n + 1_000_000))).0,
            2 => now.push(record(*id, n)),
            _ => then.push(record(*id, n)),
        }
    }
    copy.commit_all(then.into_iter().map(|r| put(t, valv_store::Row::Record(r))).collect()).await.unwrap();
    live_store.commit_all(now.into_iter().map(|r| put(t, valv_store::Row::Record(r))).collect()).await.unwrap();

    let report = l.valv.backups().restore_tenant(&Caller::Cli, tenant, &copy, "then").await.unwrap();
    assert_eq!((report.records_restored, report.records_deleted), (625 + 625, 625), "{report:?}");
    for (i, id) in ids.iter().enumerate() {
        let r = live_store.record(tenant, *id).await.unwrap().unwrap();
        let kind = i % 4;
        assert_eq!(r.deleted_at.is_some(), kind == 2, "record {i} of kind {kind}");
        if kind != 2 {
            assert_eq!(r.data, json!({ "n": i as u64 }), "record {i} of kind {kind} is as it was");
        }
        assert_eq!(
            r.revision,
            if kind == 1 || kind == 2 { 2 } else { 1 },
            "record {i}: only differences are new revisions"
        );
    }
}

/// Targets cut their segments at different points. A segment damaged on one
/// target is read from the other target's segments that cover the same
/// entries; damaged on both, the restore fails instead of leaving a gap.
#[tokio::test]
async fn a_damaged_segment_is_covered_by_another_targets_differently_cut_segments() {
    let dir = tempfile::tempdir().unwrap();
    let master = Key::generate();
    let folder = |n: &str| dir.path().join(n);
    let (a, b) = (
        Target::open("a", &folder("a").display().to_string()).unwrap(),
        Target::open("b", &folder("b").display().to_string()).unwrap(),
    );
    let mut l = live(dir.path(), master.clone(), a.clone()).await;
    while l.valv.backups().ship_once(&a, true).await.unwrap() > 0 {}
    for n in 0..3 {
        l.clock.advance(Duration::seconds(1));
        apply(&mut l, &Step::Create(n)).await;
    }
    while l.valv.backups().ship_once(&a, false).await.unwrap() > 0 {}
    while l.valv.backups().ship_once(&b, true).await.unwrap() > 0 {}
    let segments = |t: &str| {
        let mut s: Vec<_> = std::fs::read_dir(folder(t).join("segments")).unwrap().map(|e| e.unwrap().path()).collect();
        s.sort();
        s
    };
    assert_eq!((segments("a").len(), segments("b").len()), (2, 1), "the targets cut differently");
    let damage = |p: &std::path::Path| {
        let mut bytes = std::fs::read(p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(p, bytes).unwrap();
    };
    damage(segments("a").last().unwrap());
    let digest = l.valv.backups().store_digest().await.unwrap();
    let restore_into = |name: &'static str| {
        let (dir, targets, master) = (dir.path().to_owned(), vec![a.clone(), b.clone()], master.clone());
        async move {
            let store = Arc::new(SqliteStore::open(&dir.join(format!("{name}.db"))).await.unwrap());
            let keys = Arc::new(SqliteKeyStore::open(&dir.join(format!("{name}-keyring.db"))).unwrap());
            let blobs = valv_blob::ChunkStore::open(&dir.join(format!("{name}-blobs")).display().to_string()).unwrap();
            let req = RestoreRequest { at: datetime!(2100-01-01 00:00 UTC), targets, master };
            restore(&StoreSlot::ready(store.clone()), keys, &blobs, &req, &|_, _, _| {}).await.map(|_| store)
        }
    };
    let restored = restore_into("one-damaged").await.unwrap();
    assert_eq!(restored.state_digest().await.unwrap().digest, digest);

    damage(&segments("b")[0]);
    let Err(e) = restore_into("both-damaged").await else { panic!("entries on no readable segment fail the restore") };
    assert!(e.to_string().contains("damaged"), "{e}");
}

/// A restore into a folder, through the one use case: the marker is there
/// while it writes and the installation comes back only once it is whole.
async fn restore_into_folder(dir: &std::path::Path, req: &RestoreRequest) -> (std::path::PathBuf, Option<Valv>) {
    use valv_service::backup::{Destination, restore_installation};
    std::fs::create_dir_all(dir).unwrap();
    let marker = dir.join("restore-incomplete");
    std::fs::write(&marker, b"").unwrap();
    let store: Arc<dyn valv_store::Store> = Arc::new(SqliteStore::open(&dir.join("valv.db")).await.unwrap());
    let keys = Arc::new(SqliteKeyStore::open(&dir.join("keyring.db")).unwrap());
    let blobs = valv_blob::ChunkStore::open(&dir.join("blobs").display().to_string()).unwrap();
    let dest = Destination { store: StoreSlot::ready(store), keys, blobs, marker: Some(marker.clone()) };
    let master = req.master.clone();
    let open = async |store, keys| {
        let keyring = Keyring::open(keys, master).await.map_err(valv_service::ServiceError::internal)?;
        let clock = Arc::new(ManualClock::new(datetime!(2026-03-02 12:00 UTC)));
        Ok(Valv::new(store, Arc::new(keyring), clock, Arc::new(Inbox::default()), Settings::default()))
    };
    let restored = restore_installation(dest, req, &|_, _, _| {}, open).await;
    (marker, restored.ok().map(|r| r.valv().clone()))
}

#[tokio::test]
async fn a_restored_installation_exists_only_once_whole_and_its_marker_goes_with_the_last_step() {
    let dir = tempfile::tempdir().unwrap();
    let master = Key::generate();
    let target = Target::open("local", &dir.path().join("target").display().to_string()).unwrap();
    let mut l = live(dir.path(), master.clone(), target.clone()).await;
    apply(&mut l, &Step::Create(7)).await;
    while l.valv.backups().ship_once(&target, true).await.unwrap() > 0 {}
    let digest = l.valv.backups().store_digest().await.unwrap();

    let wrong = RestoreRequest { at: l.clock.now(), targets: vec![target.clone()], master: Key::generate() };
    let (marker, none) = restore_into_folder(&dir.path().join("wrong"), &wrong).await;
    assert!(none.is_none(), "a restore with the wrong key yields no installation");
    assert!(marker.exists(), "and its folder stays marked as incomplete");

    let req = RestoreRequest { at: l.clock.now(), targets: vec![target], master };
    let (marker, restored) = restore_into_folder(&dir.path().join("whole"), &req).await;
    let restored = restored.expect("a whole installation");
    assert!(!marker.exists(), "the marker is cleared once the restore is whole");
    assert_eq!(restored.backups().store_digest().await.unwrap(), digest, "it holds the live state");
}
