//! Record queries answer as the SQLite backend does: every filter operator
//! against numbers, strings, booleans, nulls, missing fields and nested
//! values, case-insensitive lookups, and sorted pages followed by cursor.

use std::sync::Arc;

use serde_json::{Value, json};
use time::macros::datetime;
use valv_domain::{CollectionId, RecordId, TenantId};
use valv_store::contract::tenant;
use valv_store::{Actor, Chain, Change, CollectionRow, Filter, Op, RecordQuery, RecordRow, Row, Store};

/// Values of field `v` (one record each; `None`: the field is missing).
fn values() -> Vec<Option<Value>> {
    let mut v: Vec<Option<Value>> = [
        json!(5),
        json!(5.0),
        json!(-3),
        json!(1.5),
        json!(10),
        json!(1e20),
        json!("10"),
        json!("9"),
        json!("abc"),
        json!("ABC"),
        json!("Åsa"),
        json!("åsa"),
        json!(""),
        json!(true),
        json!(false),
        json!(null),
        json!([1, "a"]),
        json!({ "k": 1 }),
    ]
    .into_iter()
    .map(Some)
    .collect();
    v.push(None);
    v
}

async fn fill(stores: &[&dyn Store]) -> (TenantId, CollectionId) {
    let t = tenant("records-q");
    let at = datetime!(2026-01-01 0:00 UTC);
    let c = CollectionRow { created_at: at, updated_at: at, ..valv_store::contract::collection(t.id, "things") };
    let mut changes = vec![
        Change::new(Chain::Provider, at, Actor::Cli, valv_store::Action::TenantCreated).row(Row::Tenant(t.clone())),
        Change::new(Chain::Tenant(t.id), at, Actor::Cli, valv_store::Action::CollectionCreated)
            .row(Row::Collection(c.clone())),
    ];
    for (i, v) in values().into_iter().enumerate() {
        let data = v.map_or_else(|| json!({ "other": i }), |v| json!({ "v": v, "n": i }));
        let r = RecordRow {
            id: RecordId::new(),
            tenant_id: t.id,
            collection_id: c.id,
            revision: 1,
            data,
            deleted_at: None,
            created_at: at,
            created_by: "cli".into(),
            updated_at: at,
            updated_by: "cli".into(),
        };
        changes.push(
            Change::new(Chain::Tenant(t.id), at, Actor::Cli, valv_store::Action::RecordCreated).row(Row::Record(r)),
        );
    }
    for s in stores {
        s.commit_all(changes.clone()).await.expect("fill");
        s.index_fields(c.id, vec![("v".into(), true), ("v".into(), false)]).await.expect("index");
    }
    (t.id, c.id)
}

/// The `v` of each record, in the order returned.
fn seen(rows: &[RecordRow]) -> Vec<Value> {
    rows.iter().map(|r| r.data.get("v").cloned().unwrap_or_else(|| json!("<missing>"))).collect()
}

async fn stores() -> (tempfile::TempDir, Arc<dyn Store>, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = valv_store::contract::sealed(
        valv_store_sqlite::SqliteStore::open(&dir.path().join("q.db")).await.expect("sqlite"),
    );
    let pg = valv_store::contract::sealed(
        valv_store_postgres::PgStore::connect(&valv_testkit::postgres()).await.expect("postgres"),
    );
    (dir, Arc::new(sqlite), Arc::new(pg))
}

#[tokio::test]
async fn filters_match_what_sqlite_matches() {
    let (_dir, sqlite, pg) = stores().await;
    let (t, c) = fill(&[&*sqlite, &*pg]).await;
    let ops = [Op::Eq, Op::Ne, Op::Lt, Op::Lte, Op::Gt, Op::Gte, Op::EqNoCase];
    let mut probes: Vec<Value> = values().into_iter().flatten().collect();
    probes.extend([json!(0), json!(7.25), json!("a"), json!("åSA"), json!("B")]);
    for op in ops {
        for value in &probes {
            // Case-insensitive lookups take text (e-mail addresses); with a number or a
            // boolean SQLite compares its own rendering of the field (`1` for true).
            if op == Op::EqNoCase && !value.is_string() {
                continue;
            }
            let q = RecordQuery {
                filters: vec![Filter { field: "v".into(), op, value: value.clone() }],
                limit: 100,
                ..RecordQuery::default()
            };
            let want = seen(&sqlite.records(t, c, &q).await.expect("sqlite"));
            let got = seen(&pg.records(t, c, &q).await.expect("postgres"));
            assert_eq!(got, want, "v {op:?} {value}");
        }
    }
}

#[tokio::test]
async fn sorted_pages_follow_the_same_order_as_sqlite() {
    let (_dir, sqlite, pg) = stores().await;
    let (t, c) = fill(&[&*sqlite, &*pg]).await;
    for desc in [false, true] {
        for s in [&sqlite, &pg] {
            // Pages of three, each after the last one's (value, id), as the API's cursor does.
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let q = RecordQuery { sort: Some(("v".into(), desc)), after, limit: 3, ..RecordQuery::default() };
                let page = s.records(t, c, &q).await.expect("page");
                all.extend(page.iter().cloned());
                match page.last() {
                    Some(r) if page.len() == 3 => after = Some((r.data.get("v").cloned().unwrap_or(json!("")), r.id)),
                    _ => break,
                }
            }
            assert_eq!(all.len(), values().len(), "every record once (desc: {desc})");
        }
        let q = RecordQuery { sort: Some(("v".into(), desc)), limit: 100, ..RecordQuery::default() };
        let want = sqlite.records(t, c, &q).await.expect("sqlite");
        let got = pg.records(t, c, &q).await.expect("postgres");
        assert_eq!(seen(&got), seen(&want), "one order (desc: {desc})");
    }
    let q = RecordQuery {
        sort: Some(("v".into(), false)),
        after: Some((Value::Null, RecordId::new())),
        limit: 100,
        ..RecordQuery::default()
    };
    assert_eq!(pg.records(t, c, &q).await.expect("pg").len(), sqlite.records(t, c, &q).await.expect("sqlite").len());
}
