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
