use serde_json::{Value, json};
use valv_testkit::Api;

use crate::app;

/// A `contacts` collection about people, with every kind of field.
async fn contacts(api: &Api<'_>, owner: &reqwest::Client) {
    let body = json!({ "name": "contacts", "data_subject": true, "fields": [
        { "name": "name", "type": "text", "required": true, "personal": "identity" },
        { "name": "email", "type": "email", "personal": "contact" },
        { "name": "age", "type": "number" },
        { "name": "status", "type": "enum", "values": ["lead", "customer"] },
        { "name": "manager", "type": "reference", "collection": "contacts" },
    ]});
    let _ = api.create_collection(owner, body).await.created();
}

/// The names of a page of contacts, in order.
fn names(page: &Value) -> Vec<String> {
    page["records"].as_array().unwrap().iter().map(|r| r["data"]["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn collections_keep_their_personal_data_annotations() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    contacts(&api, &t.owner).await;

    let c = api.collection(&t.owner, "contacts").await.ok();
    assert_eq!((&c["data_subject"], &c["fields"][1]["personal"]), (&json!(true), &json!("contact")));
    api.create_collection(&t.owner, json!({ "name": "contacts", "fields": [] })).await.error(409, "collection_exists");
    let bad = json!({ "name": "x", "fields": [{ "name": "a", "type": "text", "persnal": "health" }] });
    assert_eq!(api.create_collection(&t.owner, bad).await.status, 422);
    let journal = api.journal(&t.owner).await.ok();
    assert!(journal["entries"].as_array().unwrap().iter().any(|e| e["action"] == "collection.created"), "journaled");
}

#[tokio::test]
async fn records_are_validated_versioned_and_soft_deleted() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    contacts(&api, &t.owner).await;
    let refused = api.create_record(&t.owner, "contacts", json!({ "age": "old", "status": "x", "extra": 1 })).await;
    assert_eq!(refused.refused_fields(), ["extra", "name", "age", "status"]);

    let rec = api.create_record(&t.owner, "contacts", json!({ "name": "Ada", "email": "ada@x.example", "age": 36 }));
    let id = rec.await.created()["id"].as_str().unwrap().to_owned();
    assert_eq!(api.record(&t.owner, "contacts", &id).await.etag(), "\"r1\"");
    let patch = json!({ "age": 37, "email": null });
    let changed = api.update_record(&t.owner, "contacts", &id, patch, Some("\"r1\"")).await;
    assert_eq!(changed.etag(), "\"r2\"");
    assert_eq!(changed.ok()["data"], json!({ "name": "Ada", "age": 37 }));
    let stale = api.update_record(&t.owner, "contacts", &id, json!({ "age": 38 }), Some("\"r1\"")).await;
    stale.error(412, "precondition_failed");
    assert_eq!(api.delete_record(&t.owner, "contacts", &id, Some("\"r1\"")).await.status, 412);
    assert_eq!(api.delete_record(&t.owner, "contacts", &id, Some("\"r2\"")).await.status, 204);
    assert_eq!(api.record(&t.owner, "contacts", &id).await.status, 404, "deleted records are gone from reads");
    assert!(names(&api.records(&t.owner, "contacts", "").await.ok()).is_empty(), "and from lists");

    let revs = api.revisions(&t.owner, "contacts", &id).await.ok();
    let revs = revs.as_array().unwrap();
    assert_eq!(revs.len(), 3, "history stays");
    assert_eq!(revs[1]["changed"], json!(["age", "email"]));
    assert_eq!(revs[1]["actor"], format!("user:{}", t.owner_id));
    assert_eq!(revs[2]["action"], "record.deleted");
    assert_eq!(api.revision(&t.owner, "contacts", &id, 1).await.ok()["data"]["email"], "ada@x.example");
    let restored = api.restore_revision(&t.owner, "contacts", &id, 1).await;
    assert_eq!(restored.etag(), "\"r4\"", "restoring writes a new revision");
    let now = api.record(&t.owner, "contacts", &id).await.ok();
    assert_eq!(now["data"], json!({ "name": "Ada", "email": "ada@x.example", "age": 36 }));
}

#[tokio::test]
async fn records_filter_sort_and_page() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    contacts(&api, &t.owner).await;
    for (i, status) in ["lead", "customer", "lead", "customer", "lead"].iter().enumerate() {
        let data = json!({ "name": format!("P{i}"), "age": 20 + i, "status": status });
        let _ = api.create_record(&t.owner, "contacts", data).await.created();
    }
    let page = async |q: &str| api.records(&t.owner, "contacts", q).await.ok();
    assert_eq!(names(&page("status=lead").await), ["P0", "P2", "P4"]);
    assert_eq!(names(&page("age.gte=22&sort=-age").await), ["P4", "P3", "P2"]);
    let (mut seen, mut cursor) = (Vec::new(), String::new());
    loop {
        let p = page(&format!("sort=-age&limit=2{cursor}")).await;
        seen.extend(names(&p));
        match p["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["P4", "P3", "P2", "P1", "P0"], "pages in order, each record once");
    assert_eq!(api.records(&t.owner, "contacts", "nope=1").await.status, 422);
}

#[tokio::test]
async fn references_stay_inside_the_tenant_and_roles_apply() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let (a, b) = (app.tenant(&op, "acme").await, app.tenant(&op, "beta").await);
    contacts(&api, &a.owner).await;
    contacts(&api, &b.owner).await;
    let theirs = api.create_record(&b.owner, "contacts", json!({ "name": "Bea" })).await.created();
    let ours = api.create_record(&a.owner, "contacts", json!({ "name": "Ada" })).await.created();
    let across = api.create_record(&a.owner, "contacts", json!({ "name": "X", "manager": theirs["id"] })).await;
    assert_eq!(across.body["error"]["fields"][0]["code"], "reference_invalid", "no references into another tenant");
    let _ = api.create_record(&a.owner, "contacts", json!({ "name": "Y", "manager": ours["id"] })).await.created();
    assert_eq!(api.record(&a.owner, "contacts", theirs["id"].as_str().unwrap()).await.status, 404);

    let (_, viewer) = app.member(&a, "v@acme.example", "viewer").await;
    let (_, auditor) = app.member(&a, "au@acme.example", "auditor").await;
    assert_eq!(api.records(&viewer, "contacts", "").await.status, 200);
    assert_eq!(api.create_record(&viewer, "contacts", json!({ "name": "Z" })).await.status, 403);
    assert_eq!(api.records(&auditor, "contacts", "").await.status, 403);
    assert_eq!(api.records(&op, "contacts", "").await.status, 403, "operators never read records");
    let mut deep = json!("x");
    for _ in 0..40 {
        deep = json!({ "d": deep });
    }
    let nested = api.create_record(&a.owner, "contacts", json!({ "name": "D", "status": deep })).await;
    assert_eq!(nested.status, 422, "deeply nested JSON is refused");
}

/// A field marked `searchable` is filtered and sorted like any other and
/// says so in the collection; a personal field cannot be searchable in clear.
#[tokio::test]
async fn a_field_is_marked_searchable_and_a_personal_one_cannot_be() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let both = json!({ "name": "people", "fields": [
        { "name": "email", "type": "email", "personal": "contact", "searchable": true }]});
    let refused = api.create_collection(&t.owner, both).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body["error"]["fields"][0]["message"].as_str().unwrap().contains("blind index"),
        "{}",
        refused.body
    );
    let tasks = json!({ "name": "tasks", "fields": [
        { "name": "title", "type": "text" }, { "name": "rank", "type": "number", "searchable": true }]});
    let made = api.create_collection(&t.owner, tasks).await.created();
    assert_eq!(made["fields"][1]["searchable"], true, "{made}");
    assert_eq!(made["fields"][0].get("searchable"), None, "written only when set: {made}");
    for (title, rank) in [("c", 3), ("a", 1), ("b", 2)] {
        let _ = api.create_record(&t.owner, "tasks", json!({ "title": title, "rank": rank })).await.created();
    }
    let page = api.records(&t.owner, "tasks", "rank.gte=2&sort=-rank").await.ok();
    let titles: Vec<&str> =
        page["records"].as_array().unwrap().iter().map(|r| r["data"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["c", "b"], "{page}");
}
