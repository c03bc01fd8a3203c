//! Review S5: uploads under way at the same time share what is left of the
//! tenant's storage; together they cannot store more than the quota.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::{PASSWORD, sign_in, world_with};
use futures::StreamExt as _;
use valv_service::{Settings, UploadTarget};

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
