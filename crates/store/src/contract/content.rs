//! The contract of ContentStore: collections, records, files and versions.

use super::*;
use crate::{Filter, Op, RecordQuery};

/// Runs this aggregate's contract tests.
pub(super) async fn run(s: &dyn Store) {
    collections_records_and_files_are_read_as_written(s).await;
    record_ids_page_in_order_with_deleted_ones(s).await;
    a_change_past_its_storage_limit_writes_nothing(s).await;
}

/// Review S5: the quota is checked in the commit's own transaction, so
/// uploads that finish at once in several processes cannot together pass it.
async fn a_change_past_its_storage_limit_writes_nothing(s: &dyn Store) {
    let t = committed_tenant(s, "contract-quota").await;
    let chain = Chain::Tenant(t.id);
    let upload = |f: &crate::FileRow, chunks: &[&str]| {
        put(chain, Action::FileCreated, Row::File(f.clone())).row(Row::FileVersion(version(f, 1, chunks)))
    };
    let (a, b) = (file(t.id, "/", "a.bin"), file(t.id, "/", "b.bin"));
    s.commit(upload(&a, &["q1", "q2"]).within_storage(30)).await.expect("20 of 30 bytes");
    let heads = s.chain_heads().await.expect("heads");
    let refused = s.commit(upload(&b, &["q3", "q4"]).within_storage(30)).await;
    assert!(matches!(refused, Err(StoreError::StorageFull)), "40 of 30 bytes: {refused:?}");
    assert_eq!(s.file(t.id, b.id).await.expect("read"), None, "nothing written");
    assert_eq!(s.tenant_bytes(t.id).await.expect("bytes"), 20);
    assert_eq!(s.chain_heads().await.expect("heads"), heads, "no entry");
    s.commit(upload(&b, &["q3"]).within_storage(30)).await.expect("30 of 30 bytes fit");
}

async fn record_ids_page_in_order_with_deleted_ones(s: &dyn Store) {
    let t = tenant("contract-ids");
    s.commit(put(Chain::Provider, Action::TenantCreated, Row::Tenant(t.clone()))).await.expect("tenant");
    let collection = collection(t.id, "notes");
    s.commit(put(Chain::Tenant(t.id), Action::CollectionCreated, Row::Collection(collection.clone())))
        .await
        .expect("c");
    let record = |n: u64| RecordRow {
        id: RecordId::new(),
        tenant_id: t.id,
        collection_id: collection.id,
        revision: 1,
        data: serde_json::json!({ "n": n }),
        deleted_at: (n == 1).then_some(T0),
        created_at: T0 + time::Duration::seconds(n as i64),
        created_by: format!("user:{n}"),
        updated_at: T0,
        updated_by: "user:x".into(),
    };
    let mut rows: Vec<RecordRow> = (0..5).map(record).collect();
    for r in &rows {
        s.commit(put(Chain::Tenant(t.id), Action::RecordCreated, Row::Record(r.clone()))).await.expect("record");
    }
    rows.sort_by_key(|r| r.id.to_string());
    let want: Vec<RecordId> = rows.iter().map(|r| r.id).collect();
    let first = s.record_ids(t.id, collection.id, None, 3).await.expect("ids");
    assert_eq!(first, want[..3], "the first page, deleted records included");
    let rest = s.record_ids(t.id, collection.id, Some(first[2]), 3).await.expect("ids");
    assert_eq!(rest, want[3..], "the page after the cursor");
    let other = tenant("contract-ids-other");
    assert!(s.record_ids(other.id, collection.id, None, 10).await.expect("ids").is_empty(), "scoped to the tenant");
}

async fn collections_records_and_files_are_read_as_written(s: &dyn Store) {
    let t = committed_tenant(s, "contract-content").await;
    let other = committed_tenant(s, "contract-content-other").await;
    let chain = Chain::Tenant(t.id);
    let c = collection(t.id, "contacts");
    s.commit(put(chain, Action::CollectionCreated, Row::Collection(c.clone()))).await.expect("collection");
    assert_eq!(s.collection(t.id, c.id).await.expect("read"), Some(c.clone()));
    assert_eq!(s.collection_by_name(t.id, "contacts").await.expect("read"), Some(c.clone()));
    assert_eq!(s.collections(t.id).await.expect("list"), vec![c.clone()]);
    assert_eq!(s.collection(other.id, c.id).await.expect("read"), None, "per tenant");

    s.index_fields(c.id, vec![("email".into(), true)]).await.expect("index");
    s.index_fields(c.id, vec![("email".into(), true)]).await.expect("indexing again changes nothing");
    let record = |n: i64, email: &str, deleted: bool| RecordRow {
        id: RecordId::new(),
        tenant_id: t.id,
        collection_id: c.id,
        revision: 1,
        data: serde_json::json!({ "n": n, "email": email }),
        deleted_at: deleted.then_some(T0),
        created_at: T0,
        created_by: "cli".into(),
        updated_at: T0,
        updated_by: "cli".into(),
    };
    let rows = [record(1, "a@x.se", false), record(2, "B@x.se", false), record(3, "c@x.se", true)];
    for r in &rows {
        s.commit(put(chain, Action::RecordCreated, Row::Record(r.clone()))).await.expect("record");
    }
    assert_eq!(s.record(t.id, rows[0].id).await.expect("read"), Some(rows[0].clone()));
    assert_eq!(s.record(other.id, rows[0].id).await.expect("read"), None, "per tenant");
    let query = |f: fn(&mut RecordQuery)| {
        let mut q = RecordQuery { limit: 10, ..RecordQuery::default() };
        f(&mut q);
        q
    };
    let ns = |rs: Vec<RecordRow>| rs.into_iter().map(|r| r.data["n"].as_i64().unwrap_or_default()).collect::<Vec<_>>();
    let by_n = |q: &mut RecordQuery| q.sort = Some(("n".into(), true));
    assert_eq!(ns(s.records(t.id, c.id, &query(by_n)).await.expect("q")), [2, 1], "live ones, sorted descending");
    let all = |q: &mut RecordQuery| q.include_deleted = true;
    assert_eq!(s.records(t.id, c.id, &query(all)).await.expect("q").len(), 3, "deleted ones on request");
    let b = |q: &mut RecordQuery| {
        q.filters = vec![Filter { field: "email".into(), op: Op::EqNoCase, value: serde_json::json!("b@X.se") }];
    };
    assert_eq!(ns(s.records(t.id, c.id, &query(b)).await.expect("q")), [2], "an e-mail matched without case");
    assert_eq!(s.count_records(t.id, c.id, false).await.expect("count"), 2);
    assert_eq!(s.count_records(t.id, c.id, true).await.expect("count"), 3);

    let (deal, old) = (file(t.id, "/contracts", "deal.pdf"), file(t.id, "/archive", "old.pdf"));
    let gone = crate::FileRow { deleted_at: Some(T0), ..old };
    let versions = [version(&deal, 1, &["c1", "c2"]), version(&deal, 2, &["c2", "c3"]), version(&gone, 1, &["c4"])];
    for f in [&deal, &gone] {
        s.commit(put(chain, Action::FileCreated, Row::File(f.clone()))).await.expect("file");
    }
    for v in &versions {
        s.commit(put(chain, Action::FileVersionAdded, Row::FileVersion(v.clone()))).await.expect("version");
    }
    assert_eq!(s.file(t.id, deal.id).await.expect("read"), Some(deal.clone()));
    assert_eq!(s.file(other.id, deal.id).await.expect("read"), None, "per tenant");
    assert_eq!(s.files(t.id, Some("/contracts")).await.expect("list"), vec![deal.clone()], "one folder");
    assert_eq!(s.files(t.id, None).await.expect("list"), vec![deal.clone()], "live files only");
    let mut every = vec![deal.clone(), gone.clone()];
    every.sort_by_key(|f| f.id.to_string());
    assert_eq!(s.all_files(t.id).await.expect("list"), every, "deleted ones too, by id");
    assert_eq!(s.file_versions(t.id, deal.id).await.expect("versions"), versions[..2].to_vec(), "oldest first");
    assert_eq!(s.tenant_bytes(t.id).await.expect("bytes"), 50, "every version of every file counts");
    let mut chunks = s.referenced_chunks(t.id).await.expect("chunks");
    chunks.sort();
    chunks.dedup();
    assert_eq!(chunks, ["c1", "c2", "c3", "c4"]);
    assert!(s.referenced_chunks(other.id).await.expect("chunks").is_empty(), "per tenant");
}
