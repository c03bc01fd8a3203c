use serde_json::{Value, json};

use crate::{app, code};

async fn contacts(app: &valv_testkit::TestApp, owner: &reqwest::Client) {
    let body = json!({ "name": "contacts", "data_subject": true, "fields": [
        { "name": "name", "type": "text", "required": true, "personal": "identity" },
        { "name": "email", "type": "email", "personal": "contact" },
        { "name": "age", "type": "number" },
        { "name": "status", "type": "enum", "values": ["lead", "customer"] },
        { "name": "manager", "type": "reference", "collection": "contacts" },
    ]});
    let r = owner.post(app.at("/api/v1/collections")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201, "create collection");
}

async fn create(app: &valv_testkit::TestApp, c: &reqwest::Client, data: Value) -> Value {
    let r = c.post(app.at("/api/v1/collections/contacts/records")).json(&data).send().await.unwrap();
    assert_eq!(r.status(), 201, "create record {data}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn collections_keep_their_personal_data_annotations() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    contacts(&app, &t.owner).await;
    let c: Value = t.owner.get(app.at("/api/v1/collections/contacts")).send().await.unwrap().json().await.unwrap();
    assert_eq!(c["data_subject"], true);
    assert_eq!(c["fields"][1]["personal"], "contact");
    let dup = json!({ "name": "contacts", "fields": [] });
    assert_eq!(
        code(t.owner.post(app.at("/api/v1/collections")).json(&dup).send().await.unwrap()).await,
        (409, "collection_exists".into())
    );
    let bad = json!({ "name": "x", "fields": [{ "name": "a", "type": "text", "persnal": "health" }] });
    assert_eq!(t.owner.post(app.at("/api/v1/collections")).json(&bad).send().await.unwrap().status(), 422);
    let journal = app.journal(&t.owner).await;
    assert!(journal.iter().any(|e| e["action"] == "collection.created"), "schema changes are journaled");
}

#[tokio::test]
async fn records_are_validated_versioned_and_soft_deleted() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    contacts(&app, &t.owner).await;
    let bad = t
        .owner
        .post(app.at("/api/v1/collections/contacts/records"))
        .json(&json!({ "age": "old", "status": "x", "extra": 1 }))
        .send()
        .await
        .unwrap();
    let v: Value = bad.json().await.unwrap();
    let fields: Vec<&str> =
        v["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["extra", "name", "age", "status"]);

    let rec = create(&app, &t.owner, json!({ "name": "Ada", "email": "ada@x.example", "age": 36 })).await;
    let url = app.at(&format!("/api/v1/collections/contacts/records/{}", rec["id"].as_str().unwrap()));
    let r = t.owner.get(&url).send().await.unwrap();
    assert_eq!(r.headers()["etag"], "\"r1\"");
    let r = t
        .owner
        .patch(&url)
        .header("if-match", "\"r1\"")
        .json(&json!({ "age": 37, "email": null }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"r2\"");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"], json!({ "name": "Ada", "age": 37 }));
    let stale = t.owner.patch(&url).header("if-match", "\"r1\"").json(&json!({ "age": 38 })).send().await.unwrap();
    assert_eq!(code(stale).await, (412, "precondition_failed".into()), "a stale If-Match is refused");
    assert_eq!(t.owner.delete(&url).header("if-match", "\"r1\"").send().await.unwrap().status(), 412);
    assert_eq!(t.owner.delete(&url).header("if-match", "\"r2\"").send().await.unwrap().status(), 204);
    assert_eq!(t.owner.get(&url).send().await.unwrap().status(), 404, "deleted records are gone from reads");
    let list: Value =
        t.owner.get(app.at("/api/v1/collections/contacts/records")).send().await.unwrap().json().await.unwrap();
    assert!(list["records"].as_array().unwrap().is_empty(), "and from lists");

    let revs: Value = t.owner.get(format!("{url}/revisions")).send().await.unwrap().json().await.unwrap();
    let revs = revs.as_array().unwrap();
    assert_eq!(revs.len(), 3, "history stays");
    assert_eq!(revs[1]["changed"], json!(["age", "email"]));
    assert_eq!(revs[1]["actor"], format!("user:{}", t.owner_id));
    assert_eq!(revs[2]["action"], "record.deleted");
    let first: Value = t.owner.get(format!("{url}/revisions/1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(first["data"]["email"], "ada@x.example");
    let restored = t.owner.post(format!("{url}/revisions/1/restore")).send().await.unwrap();
    assert_eq!(restored.headers()["etag"], "\"r4\"", "restoring writes a new revision");
    let now: Value = t.owner.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["data"], json!({ "name": "Ada", "email": "ada@x.example", "age": 36 }));
}

#[tokio::test]
async fn records_filter_sort_and_page() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    contacts(&app, &t.owner).await;
    for (i, status) in ["lead", "customer", "lead", "customer", "lead"].iter().enumerate() {
        create(&app, &t.owner, json!({ "name": format!("P{i}"), "age": 20 + i, "status": status })).await;
    }
    let get = |q: &str| {
        let (c, u) = (t.owner.clone(), app.at(&format!("/api/v1/collections/contacts/records?{q}")));
        async move { c.get(u).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let names = |v: &Value| {
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["data"]["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&get("status=lead").await), ["P0", "P2", "P4"]);
    assert_eq!(names(&get("age.gte=22&sort=-age").await), ["P4", "P3", "P2"]);
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(&format!("sort=-age&limit=2{cursor}")).await;
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["P4", "P3", "P2", "P1", "P0"], "pages in order, each record once");
    let r = t.owner.get(app.at("/api/v1/collections/contacts/records?nope=1")).send().await.unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn references_stay_inside_the_tenant_and_roles_apply() {
    let app = app();
    let op = app.operator().await;
    let a = app.tenant(&op, "acme").await;
    let b = app.tenant(&op, "beta").await;
    contacts(&app, &a.owner).await;
    contacts(&app, &b.owner).await;
    let theirs = create(&app, &b.owner, json!({ "name": "Bea" })).await;
    let ours = create(&app, &a.owner, json!({ "name": "Ada" })).await;
    let r = a
        .owner
        .post(app.at("/api/v1/collections/contacts/records"))
        .json(&json!({ "name": "X", "manager": theirs["id"] }))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["fields"][0]["code"], "reference_invalid", "no references into another tenant");
    create(&app, &a.owner, json!({ "name": "Y", "manager": ours["id"] })).await;
    let url = app.at(&format!("/api/v1/collections/contacts/records/{}", theirs["id"].as_str().unwrap()));
    assert_eq!(a.owner.get(&url).send().await.unwrap().status(), 404);

    let (_, viewer) = app.member(&a, "v@acme.example", "viewer").await;
    let (_, auditor) = app.member(&a, "au@acme.example", "auditor").await;
    assert_eq!(viewer.get(app.at("/api/v1/collections/contacts/records")).send().await.unwrap().status(), 200);
    assert_eq!(
        viewer
            .post(app.at("/api/v1/collections/contacts/records"))
            .json(&json!({ "name": "Z" }))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(auditor.get(app.at("/api/v1/collections/contacts/records")).send().await.unwrap().status(), 403);
    assert_eq!(
        op.get(app.at("/api/v1/collections/contacts/records")).send().await.unwrap().status(),
        403,
        "operators never read records"
    );
    let mut deep = json!("x");
    for _ in 0..40 {
        deep = json!({ "d": deep });
    }
    let r = a
        .owner
        .post(app.at("/api/v1/collections/contacts/records"))
        .json(&json!({ "name": "D", "status": deep }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "deeply nested JSON is refused");
}
