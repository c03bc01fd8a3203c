//! The key store: initialised once, a key in use never replaced, no key
//! added under a master key rotated away, rotation all or nothing, a
//! destroyed key gone for good and never revived by a rotation, and the
//! lock that keeps rotation and serving apart.

use crate::{Added, Hold, KeyStore};

/// Runs the key-store contract against `k` (empty) and `other`, a second
/// handle on the same keyring as another process would open it.
///
/// # Panics
/// When the backend breaks the contract.
pub async fn keys(k: &dyn KeyStore, other: &dyn KeyStore) {
    initialised_once(k).await;
    added_only_under_the_current_master(k).await;
    rotated_whole_or_not_at_all(k).await;
    serving_and_rotating_exclude_each_other(k, other).await;
}

async fn initialised_once(k: &dyn KeyStore) {
    assert_eq!(k.check().await.expect("check"), None, "a new keyring is empty");
    assert!(k.init(b"check-1".to_vec()).await.expect("init"));
    assert!(!k.init(b"check-2".to_vec()).await.expect("init again"), "a second init is refused");
    assert_eq!(k.check().await.expect("check"), Some(b"check-1".to_vec()), "the first check value stays");
}

async fn added_only_under_the_current_master(k: &dyn KeyStore) {
    let add = |t: &'static str, w: &[u8], check: &[u8]| k.add_wrapped(t, w.to_vec(), check.to_vec());
    assert_eq!(add("tenant-b", b"key-b", b"check-1").await.expect("add"), Added::Stored);
    assert_eq!(add("tenant-a", &[0, 255, 1], b"check-1").await.expect("add"), Added::Stored);
    assert_eq!(add("tenant-a", b"other", b"check-1").await.expect("again"), Added::Exists, "a key in use is kept");
    assert_eq!(add("tenant-c", b"key-c", b"stale").await.expect("stale"), Added::OtherMaster);
    assert_eq!(k.wrapped("tenant-a").await.expect("read"), Some(vec![0, 255, 1]), "bytes round-trip");
    assert_eq!(k.wrapped("tenant-c").await.expect("read"), None, "nothing added under another master");
    assert_eq!(k.tenants().await.expect("tenants"), ["tenant-a", "tenant-b"]);
}

async fn rotated_whole_or_not_at_all(k: &dyn KeyStore) {
    let rewrapped = |names: &[&str]| names.iter().map(|t| ((*t).to_owned(), format!("{t}-2").into_bytes())).collect();
    let refused = k.rotate(b"stale".to_vec(), b"check-3".to_vec(), rewrapped(&["tenant-a", "tenant-b"]));
    assert!(!refused.await.expect("rotate"), "a rotation from a check value no longer current is refused");
    k.destroy("tenant-a").await.expect("destroy");
    let revived = k.rotate(b"check-1".to_vec(), b"check-3".to_vec(), rewrapped(&["tenant-a", "tenant-b"]));
    assert!(!revived.await.expect("rotate"), "a rotation that read a key destroyed since is refused");
    assert_eq!(k.wrapped("tenant-a").await.expect("read"), None, "and the destroyed key stays gone");
    assert_eq!(k.check().await.expect("check"), Some(b"check-1".to_vec()), "nothing changed");
    assert!(k.rotate(b"check-1".to_vec(), b"check-3".to_vec(), rewrapped(&["tenant-b"])).await.expect("rotate"));
    assert_eq!(k.check().await.expect("check"), Some(b"check-3".to_vec()));
    assert_eq!(k.wrapped("tenant-b").await.expect("read"), Some(b"tenant-b-2".to_vec()));
    assert_eq!(k.tenants().await.expect("tenants"), ["tenant-b"]);
}

async fn serving_and_rotating_exclude_each_other(k: &dyn KeyStore, other: &dyn KeyStore) {
    let serving = k.hold(Hold::Serving).await.expect("hold").expect("a free keyring can be served");
    let second = other.hold(Hold::Serving).await.expect("hold");
    assert!(second.is_some(), "several servers share the keyring");
    assert!(other.hold(Hold::Rotating).await.expect("hold").is_none(), "no rotation while a server runs");
    drop((serving, second));
    let rotating = other.hold(Hold::Rotating).await.expect("hold").expect("the last server stopped");
    assert!(k.hold(Hold::Serving).await.expect("hold").is_none(), "no server starts during a rotation");
    assert!(k.hold(Hold::Rotating).await.expect("hold").is_none(), "nor a second rotation");
    drop(rotating);
    assert!(k.hold(Hold::Serving).await.expect("hold").is_some(), "the lock goes with its holder");
}
