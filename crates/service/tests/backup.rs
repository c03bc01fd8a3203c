//! Backups over time, through the real backup objects: pruning drops what
//! the retention policy lets go and keeps every restore point in its window;
//! merging a quiet installation's many small segments leaves a few that
//! restore every instant, also while a restore runs beside the merge.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use valv_store::prelude::*;

use time::{Duration, macros::datetime};
use valv_backup_format::Target;
use valv_crypto::seal::Key;
use valv_domain::Clock as _;
use valv_service::Caller;
use valv_service::backup::{RestoreRequest, StoreSlot, restore};
use valv_store_sqlite::{SqliteKeyStore, SqliteStore};

use common::live::{Step, apply, live};

#[tokio::test]
async fn pruning_drops_what_the_policy_lets_go_and_keeps_every_restore_point_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let master = Key::generate();
    let target = Target::open("local", &dir.path().join("target").display().to_string()).unwrap();
    let mut l = live(dir.path(), master.clone(), target.clone()).await;
    apply(&mut l, &Step::Upload(7)).await;
    let mut days = Vec::new();
    for day in 0..=40 {
        if day > 0 {
            l.clock.advance(Duration::days(1));
            apply(&mut l, &Step::Create(day)).await;
        }
        while l.valv.backups().ship_once(&target, day == 0).await.unwrap() > 0 {}
        let snap = l.valv.backups().backup_now(&Caller::Cli, &|_| {}).await.unwrap();
        days.push((snap.id, l.clock.now(), l.valv.backups().store_digest().await.unwrap()));
    }
    let orphan = format!("chunks/{}/ab/{}", "0".repeat(8), "ab".repeat(32));
    target.put(&orphan, bytes::Bytes::from_static(b"left by an erasure")).await.unwrap();

    let reports = l.valv.backups().prune_backups(&Caller::Cli, &valv_backup_format::Policy::default()).await.unwrap();
    let r = &reports[0];
    let dropped: Vec<&String> = r.snapshots_removed.iter().collect();
    assert_eq!(r.chunks_removed, 1, "only the chunk nothing refers to: {r:?}");
    assert!(!target.exists(&orphan).await.unwrap());
    // Now is day 40: snapshots of days 10..=40 are daily, day 5 is the base of the 35-day window,
    // day 0 is March's monthly one; days 1-4 and 6-9 go.
    let expect: Vec<&String> = [1, 2, 3, 4, 6, 7, 8, 9].iter().map(|d: &usize| &days[*d].0).collect();
    assert_eq!(dropped, expect, "{r:?}");
    assert!(r.segments_removed > 0, "segments before the window's base go: {r:?}");

    for day in [5usize, 6, 20, 40] {
        let (_, at, digest) = &days[day];
        let restored = Arc::new(SqliteStore::open(&dir.path().join(format!("r{day}.db"))).await.unwrap());
        let keys = Arc::new(SqliteKeyStore::open(&dir.path().join(format!("k{day}.db"))).unwrap());
        let blobs = valv_blob::ChunkStore::open(&dir.path().join(format!("b{day}")).display().to_string()).unwrap();
        let req = RestoreRequest { at: *at, targets: vec![target.clone()], master: master.clone() };
        restore(&StoreSlot::ready(restored.clone()), keys, &blobs, &req, &|_, _, _| {}).await.unwrap();
        assert_eq!(&restored.state_digest().await.unwrap().digest, digest, "day {day} restores after pruning");
    }
}

/// A quiet installation ships a segment every few entries; merging them
/// leaves a few objects that restore every instant as before, and pruning
/// afterwards keeps the chunks the merged segments refer to.
#[tokio::test]
async fn merged_segments_are_few_and_restore_every_instant() {
    let dir = tempfile::tempdir().unwrap();
    let master = Key::generate();
    let target = Target::open("local", &dir.path().join("target").display().to_string()).unwrap();
    let mut l = live(dir.path(), master.clone(), target.clone()).await;
    apply(&mut l, &Step::Upload(3)).await;
    let mut points = Vec::new();
    for n in 0..60 {
        l.clock.advance(Duration::seconds(1));
        apply(&mut l, &Step::Create(n)).await;
        while l.valv.backups().ship_once(&target, n == 0).await.unwrap() > 0 {}
        points.push((l.clock.now(), l.valv.backups().store_digest().await.unwrap()));
    }
    let count = || async { target.list("segments/").await.unwrap().len() };
    assert_eq!(count().await, 60, "one segment per write");
    let removed = l.valv.backups().compact_segments(&target).await.unwrap();
    let left = count().await;
    assert!(left <= 6 && removed >= 60 - left, "{left} segments left, {removed} removed");
    assert_eq!(l.valv.backups().compact_segments(&target).await.unwrap(), 0, "a settled target has nothing to merge");

    let report = l.valv.backups().prune_backups(&Caller::Cli, &valv_backup_format::Policy::default()).await.unwrap();
    assert_eq!(report[0].chunks_removed, 0, "the file's chunks are referred to by a merged segment");
    for i in [0usize, 23, 59] {
        let (at, digest) = &points[i];
        let restored = Arc::new(SqliteStore::open(&dir.path().join(format!("r{i}.db"))).await.unwrap());
        let keys = Arc::new(SqliteKeyStore::open(&dir.path().join(format!("k{i}.db"))).unwrap());
        let blobs = valv_blob::ChunkStore::open(&dir.path().join(format!("b{i}")).display().to_string()).unwrap();
        let req = RestoreRequest { at: *at, targets: vec![target.clone()], master: master.clone() };
        let report = restore(&StoreSlot::ready(restored.clone()), keys, &blobs, &req, &|_, _, _| {}).await.unwrap();
        assert_eq!(&restored.state_digest().await.unwrap().digest, digest, "step {i}: {report:?}");
        assert_eq!(report.chunks, 1, "the file's chunk is restored");
    }
}

/// Restores running beside merges, round after round, each give the live
/// state. (Whether a merge removes inputs between a restore's listing and its
/// reads depends on timing; the restore then lists again — see `replay`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_beside_merges_give_the_live_state() {
    let dir = tempfile::tempdir().unwrap();
    let master = Key::generate();
    let target = Target::open("local", &dir.path().join("target").display().to_string()).unwrap();
    let mut l = live(dir.path(), master.clone(), target.clone()).await;
    for round in 0..10 {
        for n in 0..12 {
            l.clock.advance(Duration::seconds(1));
            apply(&mut l, &Step::Create(n)).await;
            while l.valv.backups().ship_once(&target, round == 0 && n == 0).await.unwrap() > 0 {}
        }
        let digest = l.valv.backups().store_digest().await.unwrap();
        let restored = Arc::new(SqliteStore::open(&dir.path().join(format!("r{round}.db"))).await.unwrap());
        let keys = Arc::new(SqliteKeyStore::open(&dir.path().join(format!("k{round}.db"))).unwrap());
        let blobs = valv_blob::ChunkStore::open(&dir.path().join(format!("b{round}")).display().to_string()).unwrap();
        let req = RestoreRequest {
            at: datetime!(2100-01-01 00:00 UTC),
            targets: vec![target.clone()],
            master: master.clone(),
        };
        let slot = StoreSlot::ready(restored.clone());
        let backups = l.valv.backups();
        let (restoring, merging) =
            tokio::join!(restore(&slot, keys, &blobs, &req, &|_, _, _| {}), backups.compact_segments(&target));
        merging.unwrap();
        let report = restoring.unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(restored.state_digest().await.unwrap().digest, digest, "round {round}: {report:?}");
    }
}

/// The race the test above leaves to timing, made to happen every time: a
/// merge runs from the restore's own progress report, after the segments were
/// listed and the first was read, so the inputs of the merge that the restore
/// has not read yet are gone when it reads them. The restore lists the target
/// again and goes on from where it stands, to the live state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_merged_after_the_listing_are_found_by_listing_again() {
    let dir = tempfile::tempdir().unwrap();
    let master = Key::generate();
    let target = Target::open("local", &dir.path().join("target").display().to_string()).unwrap();
    let mut l = live(dir.path(), master.clone(), target.clone()).await;
    for n in 0..40 {
        l.clock.advance(Duration::seconds(1));
        apply(&mut l, &Step::Create(n)).await;
        while l.valv.backups().ship_once(&target, n == 0).await.unwrap() > 0 {}
    }
    let listed = target.list("segments/").await.unwrap().len();
    assert!(listed >= 40, "one segment per write, {listed} listed");
    let digest = l.valv.backups().store_digest().await.unwrap();
    let restored = Arc::new(SqliteStore::open(&dir.path().join("restored.db")).await.unwrap());
    let keys = Arc::new(SqliteKeyStore::open(&dir.path().join("restored-keyring.db")).unwrap());
    let blobs = valv_blob::ChunkStore::open(&dir.path().join("restored-blobs").display().to_string()).unwrap();
    let req = RestoreRequest { at: datetime!(2100-01-01 00:00 UTC), targets: vec![target.clone()], master };
    let (handle, passes, merged) = (tokio::runtime::Handle::current(), Mutex::new(Vec::new()), Mutex::new(None));
    let progress = |phase: &str, done: u64, total: u64| {
        if phase != "journal" {
            return;
        }
        passes.lock().unwrap().push((done, total));
        let mut merged = merged.lock().unwrap();
        if merged.is_none() {
            // The merge runs on the runtime's workers while this thread waits
            // on a plain channel: a nested `block_on` here would take the
            // wake-ups meant for the restore, which would then wait forever.
            let (valv, target, (tx, rx)) = (l.valv.clone(), target.clone(), std::sync::mpsc::channel());
            handle.spawn(async move { tx.send(valv.backups().compact_segments(&target).await).unwrap() });
            *merged = Some(tokio::task::block_in_place(|| rx.recv().unwrap()).unwrap());
        }
    };
    let report = restore(&StoreSlot::ready(restored.clone()), keys, &blobs, &req, &progress).await.unwrap();
    let removed = merged.lock().unwrap().unwrap();
    assert!(removed >= 30, "the merge removed {removed} of the {listed} listed segments");
    let passes = passes.into_inner().unwrap();
    assert!(passes.windows(2).any(|w| w[1].0 <= w[0].0), "the restore listed the target again: {passes:?}");
    assert_eq!(restored.state_digest().await.unwrap().digest, digest, "{report:?}");
}
