//! The PostgreSQL keyring: initialised once, a tenant's key never replaced by
//! accident, rotated whole, destroyed for good, and kept out of every dump.

use valv_store::KeyStore as _;
use valv_store::prelude::*;
use valv_store_postgres::{PgKeyStore, PgStore};

#[tokio::test]
async fn the_keyring_is_initialised_once_and_keys_are_added_rotated_and_destroyed() {
    let url = valv_testkit::postgres();
    let k = PgKeyStore::connect(&url).await.expect("connect");
    assert_eq!(k.check().await.expect("check"), None, "a new keyring is empty");
    assert!(k.init(b"check-1".to_vec()).await.expect("init"));
    assert!(!k.init(b"check-2".to_vec()).await.expect("init again"), "a second init is refused");
    assert_eq!(k.check().await.expect("check"), Some(b"check-1".to_vec()), "the first check value stays");

    assert!(k.add_wrapped("tenant-b", b"key-b".to_vec()).await.expect("add"));
    assert!(k.add_wrapped("tenant-a", vec![0, 255, 1]).await.expect("add"));
    assert!(!k.add_wrapped("tenant-a", b"other".to_vec()).await.expect("add again"), "a key in use is kept");
    assert_eq!(k.wrapped("tenant-a").await.expect("read"), Some(vec![0, 255, 1]), "bytes round-trip");
    assert_eq!(k.tenants().await.expect("tenants"), vec!["tenant-a".to_owned(), "tenant-b".to_owned()]);

    let rotated = vec![("tenant-a".to_owned(), b"a2".to_vec()), ("tenant-b".to_owned(), b"b2".to_vec())];
    k.replace_all(b"check-3".to_vec(), rotated).await.expect("rotate");
    assert_eq!(k.check().await.expect("check"), Some(b"check-3".to_vec()));
    assert_eq!(k.wrapped("tenant-b").await.expect("read"), Some(b"b2".to_vec()));

    k.destroy("tenant-a").await.expect("destroy");
    assert_eq!(k.wrapped("tenant-a").await.expect("read"), None, "a destroyed key is gone");
    assert_eq!(k.tenants().await.expect("tenants"), vec!["tenant-b".to_owned()]);

    let again = PgKeyStore::connect(&url).await.expect("reconnect");
    assert_eq!(again.wrapped("tenant-b").await.expect("read"), Some(b"b2".to_vec()), "reconnecting keeps keys");
}

#[tokio::test]
async fn the_keyring_shares_the_database_but_never_a_dump() {
    let url = valv_testkit::postgres();
    let (k, s) = (PgKeyStore::connect(&url).await.expect("keyring"), PgStore::connect(&url).await.expect("store"));
    k.init(b"check".to_vec()).await.expect("init");
    k.add_wrapped("tenant-a", b"secret-key-bytes".to_vec()).await.expect("add");
    let empty = PgStore::connect(&valv_testkit::postgres()).await.expect("empty store");
    let (with_keys, without) = (s.state_digest().await.expect("digest"), empty.state_digest().await.expect("digest"));
    assert_eq!(with_keys, without, "the keyring is no part of the journaled state");
}
