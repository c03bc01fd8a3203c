//! The PostgreSQL keyring passes the key-store contract and is kept out of every dump.

use valv_store::KeyStore as _;
use valv_store::prelude::*;
use valv_store_postgres::{PgKeyStore, PgStore};

#[tokio::test]
async fn the_postgres_key_store_passes_the_key_contract() {
    let url = valv_testkit::postgres();
    let (k, other) =
        (PgKeyStore::connect(&url).await.expect("connect"), PgKeyStore::connect(&url).await.expect("again"));
    valv_store::contract::keys(&k, &other).await;
    let again = PgKeyStore::connect(&url).await.expect("reconnect");
    assert_eq!(again.wrapped("tenant-b").await.expect("read"), Some(b"tenant-b-2".to_vec()), "reconnecting keeps keys");
}

#[tokio::test]
async fn the_keyring_shares_the_database_but_never_a_dump() {
    let url = valv_testkit::postgres();
    let (k, s) = (
        PgKeyStore::connect(&url).await.expect("keyring"),
        valv_store::contract::sealed(PgStore::connect(&url).await.expect("store")),
    );
    k.init(b"check".to_vec()).await.expect("init");
    k.add_wrapped("tenant-a", b"secret-key-bytes".to_vec(), b"check".to_vec()).await.expect("add");
    let empty = valv_store::contract::sealed(PgStore::connect(&valv_testkit::postgres()).await.expect("empty store"));
    let (with_keys, without) = (s.state_digest().await.expect("digest"), empty.state_digest().await.expect("digest"));
    assert_eq!(with_keys, without, "the keyring is no part of the journaled state");
}
