//! The keyring: tenant keys survive rotation unchanged, a wrong master key is
//! refused, a destroyed key is gone.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use valv_crypto::seal::Key;
use valv_domain::TenantId;
use valv_service::keyring::{Keyring, KeyringError};
use valv_store_sqlite::SqliteKeyStore;

#[tokio::test]
async fn rotation_keeps_tenant_keys_and_destruction_removes_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteKeyStore::open(&dir.path().join("keyring.db")).unwrap());
    let (old, new) = (Key::generate(), Key::generate());
    let ring = Keyring::open(store.clone(), old.clone()).await.unwrap();
    let t = TenantId::new();
    let data_key = ring.create(t).await.unwrap();
    let sealed = data_key.seal(b"customer data", b"ctx");
    assert_eq!(ring.rotate(&new).await.unwrap(), 1);

    assert!(matches!(Keyring::open(store.clone(), old).await, Err(KeyringError::WrongMasterKey)));
    let reopened = Keyring::open(store.clone(), new).await.unwrap();
    let same = reopened.key(t).await.unwrap();
    assert_eq!(same.open(&sealed, b"ctx").unwrap(), b"customer data", "data sealed before rotation still opens");

    reopened.destroy(t).await.unwrap();
    assert!(matches!(reopened.key(t).await, Err(KeyringError::Missing(_))), "crypto-shredded");
}

/// Review H1: a process that opened the keyring before a rotation (a
/// server that kept running) must not wrap a new tenant's key under the
/// master key rotated away: nobody could unwrap it after a restart.
#[tokio::test]
async fn a_key_is_never_wrapped_under_a_master_key_rotated_away() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteKeyStore::open(&dir.path().join("keyring.db")).unwrap());
    let (old, new) = (Key::generate(), Key::generate());
    let stale = Keyring::open(store.clone(), old.clone()).await.unwrap();
    let rotating = Keyring::open(store.clone(), old).await.unwrap();
    rotating.rotate(&new).await.unwrap();
    let t = TenantId::new();
    assert!(matches!(stale.create(t).await, Err(KeyringError::Rotated)), "refused, loudly");
    let current = Keyring::open(store, new).await.unwrap();
    assert!(matches!(current.key(t).await, Err(KeyringError::Missing(_))), "and nothing was stored");
    current.create(t).await.unwrap();
    assert!(current.verify_all().await.is_ok(), "the current master key wraps as before");
}

/// Every target's shipper asks for the backup key at once on a first start:
/// all get the one key that is stored, and a tenant key is never replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_made_at_once_are_made_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteKeyStore::open(&dir.path().join("keyring.db")).unwrap());
    let master = Key::generate();
    let ring = Arc::new(Keyring::open(store.clone(), master.clone()).await.unwrap());
    let asks = (0..8).map(|_| {
        let ring = Arc::clone(&ring);
        tokio::spawn(async move { ring.backup_key().await.unwrap() })
    });
    let keys = futures::future::join_all(asks).await;
    let sealed = ring.backup_key().await.unwrap().seal(b"segment", b"ctx");
    for k in keys {
        assert_eq!(k.unwrap().open(&sealed, b"ctx").unwrap(), b"segment", "every caller holds the stored key");
    }

    let tenant = TenantId::new();
    let sealed = ring.create(tenant).await.unwrap().seal(b"data", b"ctx");
    assert!(matches!(ring.create(tenant).await, Err(KeyringError::Exists(t)) if t == tenant));
    let fresh = Keyring::open(store, master).await.unwrap();
    assert_eq!(fresh.key(tenant).await.unwrap().open(&sealed, b"ctx").unwrap(), b"data", "the first key stays");
}
