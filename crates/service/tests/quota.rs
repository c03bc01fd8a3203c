//! Review S5: uploads under way at the same time share what is left of the
//! tenant's storage; together they cannot store more than the quota.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::{PASSWORD, sign_in, world_with};
use futures::StreamExt as _;
use valv_service::{Caller, Settings, UploadTarget};

/// `mib` MiB of bytes arriving in pieces, slowly enough that uploads overlap.
fn slow_body(mib: usize, seed: u8) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin {
    let pieces = (0..mib * 4).map(move |i| Bytes::from(vec![seed.wrapping_add(i as u8); 256 << 10]));
    Box::pin(futures::stream::iter(pieces).then(|p| async move {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        Ok(p)
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_uploads_share_the_storage_left() {
    let w = world_with(Settings { max_tenant_bytes: 3 << 20, ..Settings::default() }).await;
    let owner = w.valv.accounts().resolve_session(&sign_in(&w, PASSWORD).await.unwrap().cookie).await.unwrap();
    let content = w.valv.content();
    let upload = |name: &str, seed| {
        let target = UploadTarget::New { folder: "/".into(), name: name.into() };
        content.upload(&owner, target, "application/octet-stream", slow_body(2, seed))
    };
    let (a, b) = tokio::join!(upload("a.bin", 1), upload("b.bin", 2));
    let refused: Vec<_> = [&a, &b].into_iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(refused.len(), 1, "one of two 2 MiB uploads fits a 3 MiB quota: {a:?} {b:?}");
    assert_eq!(refused[0].code(), "quota_storage");
    let third =
        content.upload(&owner, UploadTarget::New { folder: "/".into(), name: "c.bin".into() }, "x", slow_body(1, 3));
    assert!(third.await.is_ok(), "the refused upload's bytes were given back: 2 + 1 MiB fit");
}

/// Review S5 across processes: each process counts only its own uploads
/// under way, so the commit checks the quota again in the store's
/// transaction. Two processes uploading 2 MiB each into 3 MiB: one is
/// refused, and its chunks are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_in_two_processes_share_the_storage_left() {
    let w = world_with(Settings { max_tenant_bytes: 3 << 20, ..Settings::default() }).await;
    let other = w.second_process().await;
    let cookie = sign_in(&w, PASSWORD).await.unwrap().cookie;
    let (here, there) = (w.valv.content(), other.content());
    let owner = w.valv.accounts().resolve_session(&cookie).await.unwrap();
    let target = |name: &str| UploadTarget::New { folder: "/".into(), name: name.into() };
    let (a, b) = tokio::join!(
        here.upload(&owner, target("a.bin"), "x", slow_body(2, 1)),
        there.upload(&owner, target("b.bin"), "x", slow_body(2, 2)),
    );
    let refused: Vec<_> = [&a, &b].into_iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(refused.len(), 1, "one of two 2 MiB uploads fits a 3 MiB quota: {a:?} {b:?}");
    assert_eq!(refused[0].code(), "quota_storage");
    let files = here.files(&owner, None).await.unwrap();
    assert_eq!(files.len(), 1, "only the upload that fit is stored");
    w.clock.advance(time::Duration::days(365)); // every chunk on disk is past the collector's grace
    let gc = here.collect_garbage(&Caller::Cli, time::Duration::ZERO).await.unwrap();
    assert_eq!(gc.chunks_deleted, 0, "the refused upload's chunks were deleted when it was refused");
}
