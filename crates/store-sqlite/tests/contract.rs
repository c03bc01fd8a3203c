//! The SQLite backend passes the store contract suite.

#[tokio::test]
async fn sqlite_store_passes_the_contract_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = valv_store_sqlite::SqliteStore::open(&dir.path().join("valv.db")).await.expect("open");
    valv_store::contract::run_all(&store).await;
}

#[tokio::test]
async fn reopening_keeps_data_and_skips_applied_migrations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("valv.db");
    let t = valv_store::contract::tenant("reopen");
    {
        let s = valv_store_sqlite::SqliteStore::open(&path).await.expect("open");
        let c = valv_store::Change::new(
            valv_store::Chain::Provider,
            t.created_at,
            valv_store::Actor::Cli,
            "tenant.created",
        )
        .row(valv_store::Row::Tenant(t.clone()));
        valv_store::Store::commit(&s, c).await.expect("commit");
    }
    let s = valv_store_sqlite::SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(valv_store::Store::tenant(&s, t.id).await.expect("read"), Some(t));
}
