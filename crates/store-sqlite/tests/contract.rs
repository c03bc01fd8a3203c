//! The SQLite backend passes the store contract suite.

use valv_store::prelude::*;
use valv_store_sqlite::{SqliteKeyStore, SqliteStore};

#[tokio::test]
async fn sqlite_store_passes_the_contract_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = valv_store::contract::sealed(SqliteStore::open(&dir.path().join("valv.db")).await.expect("open"));
    valv_store::contract::run_all(&store).await;
}

#[tokio::test]
async fn sqlite_key_store_passes_the_key_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keyring.db");
    let (k, other) = (SqliteKeyStore::open(&path).expect("open"), SqliteKeyStore::open(&path).expect("again"));
    valv_store::contract::keys(&k, &other).await;
}

#[tokio::test]
async fn reopening_keeps_data_and_skips_applied_migrations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("valv.db");
    let t = valv_store::contract::tenant("reopen");
    {
        let s = valv_store::contract::sealed(SqliteStore::open(&path).await.expect("open"));
        s.seal_with(valv_store::contract::vault());
        let c = valv_store::Change::new(
            valv_store::Chain::Provider,
            t.created_at,
            valv_store::Actor::Cli,
            valv_store::Action::TenantCreated,
        )
        .row(valv_store::Row::Tenant(t.clone()));
        s.commit(c).await.expect("commit");
    }
    let s = valv_store::contract::sealed(SqliteStore::open(&path).await.expect("reopen"));
    s.seal_with(valv_store::contract::vault());
    assert_eq!(s.tenant(t.id).await.expect("read"), Some(t));
}

#[tokio::test]
async fn lookups_by_identifier_use_the_expression_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("valv.db");
    let s = valv_store::contract::sealed(SqliteStore::open(&path).await.expect("open"));
    let collection = valv_domain::CollectionId::new();
    s.index_fields(collection, vec![("email".into(), false), ("customer".into(), false)]).await.expect("index");
    let c = rusqlite::Connection::open(&path).expect("db");
    let plan = |sql: &str| -> String {
        let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("plan");
        st.query_map([], |r| r.get::<_, String>(3))
            .expect("rows")
            .map(|r| r.expect("row"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let id = collection.to_string();
    // As `search::Plan::split` asks: the blind index of the address.
    let blind = plan(&format!(
        "SELECT image FROM records WHERE tenant_id = 't' AND collection_id = '{id}' AND json_extract(search, '$.\"email\"') = ('9f2c')"
    ));
    assert!(blind.contains("_email"), "e-mail lookups use their index: {blind}");
    let reference = plan(&format!(
        "SELECT image FROM records WHERE tenant_id = 't' AND collection_id = '{id}' AND json_extract(search, '$.\"customer\"') = ('x')"
    ));
    assert!(reference.contains("_customer"), "reference lookups use their index: {reference}");
}

#[tokio::test]
async fn every_table_is_dumped_restored_and_purged_of_a_tenant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = valv_store::contract::sealed(SqliteStore::open(&dir.path().join("valv.db")).await.expect("open"));
    let fresh = valv_store::contract::sealed(SqliteStore::open(&dir.path().join("fresh.db")).await.expect("open"));
    valv_store::contract::every_table_is_dumped_restored_and_purged(&store, &fresh).await;
}

#[tokio::test]
async fn replayed_entries_rebuild_the_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = valv_store::contract::sealed(SqliteStore::open(&dir.path().join("valv.db")).await.expect("open"));
    let fresh = valv_store::contract::sealed(SqliteStore::open(&dir.path().join("fresh.db")).await.expect("open"));
    valv_store::contract::replayed_entries_rebuild_the_state(&store, &fresh).await;
}

/// A field is kept in clear in the `search` column only once the collection's
/// owner marks it searchable; marking it later rewrites every record's column.
#[tokio::test]
async fn a_field_marked_searchable_is_kept_in_clear_and_the_others_are_not() {
    use valv_store::{Action, Actor, Chain, Change, Filter, Op, RecordQuery, RecordRow, Row};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("valv.db");
    let s = valv_store::contract::sealed(SqliteStore::open(&path).await.expect("open"));
    let t = valv_store::contract::tenant("searchable");
    let put = |chain, row| Change::new(chain, t.created_at, Actor::Cli, Action::RecordCreated).about("t", "x").row(row);
    let fields = |searchable: bool| {
        serde_json::from_value(serde_json::json!([
            { "name": "notes", "type": "text" },
            { "name": "status", "type": "enum", "values": ["open", "done"], "searchable": searchable }
        ]))
        .expect("fields")
    };
    let c = valv_store::CollectionRow { fields: fields(false), ..valv_store::contract::collection(t.id, "tasks") };
    let r = RecordRow {
        id: valv_domain::RecordId::new(),
        tenant_id: t.id,
        collection_id: c.id,
        revision: 1,
        data: serde_json::json!({ "notes": "kept sealed", "status": "open" }),
        deleted_at: None,
        created_at: t.created_at,
        created_by: "cli".into(),
        updated_at: t.created_at,
        updated_by: "cli".into(),
    };
    let chain = Chain::Tenant(t.id);
    s.commit_all(vec![
        put(Chain::Provider, Row::Tenant(t.clone())),
        put(chain, Row::Collection(c.clone())),
        put(chain, Row::Record(r.clone())),
    ])
    .await
    .expect("commit");
    let column = || {
        let db = rusqlite::Connection::open(&path).expect("db");
        db.query_row("SELECT search FROM records", [], |row| row.get::<_, String>(0)).expect("search")
    };
    assert_eq!(column(), "{}", "nothing in clear by default");
    let marked = valv_store::CollectionRow { fields: fields(true), ..c.clone() };
    s.commit(put(chain, Row::Collection(marked))).await.expect("mark searchable");
    assert_eq!(column(), r#"{"status":"open"}"#, "the marked field, and only it");
    let q = RecordQuery {
        filters: vec![Filter { field: "status".into(), op: Op::Eq, value: "open".into() }],
        sort: Some(("status".into(), false)),
        limit: 10,
        ..RecordQuery::default()
    };
    assert_eq!(s.records(t.id, c.id, &q).await.expect("records"), vec![r], "found and sorted in SQL");
}
