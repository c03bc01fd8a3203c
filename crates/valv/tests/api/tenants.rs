use serde_json::{Value, json};
use valv_testkit::PASSWORD;

use crate::{app, code};

#[tokio::test]
async fn operators_create_list_show_block_unblock_and_terminate_tenants() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let list: Value = op.get(app.at("/api/v1/tenants")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let shown: Value = op.get(app.at(&format!("/api/v1/tenants/{}", t.id))).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["slug"], "acme");
    assert_eq!(shown["contact_email"], "owner@acme.example");

    let r = op.post(app.at(&format!("/api/v1/tenants/{}/block", t.id))).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "blocked");
    let (s, c) = code(t.owner.get(app.at("/api/v1/me")).send().await.unwrap()).await;
    assert_eq!((s, c.as_str()), (403, "tenant_blocked"), "a signed-in user of a blocked tenant is refused");
    let (_, status, body) = app.sign_in("acme", &t.owner_email, PASSWORD).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "tenant_blocked");
    assert!(body["error"]["message"].as_str().unwrap().contains("organisation is blocked"));

    op.post(app.at(&format!("/api/v1/tenants/{}/unblock", t.id))).send().await.unwrap();
    assert_eq!(t.owner.get(app.at("/api/v1/me")).send().await.unwrap().status(), 200);

    let r: Value =
        op.post(app.at(&format!("/api/v1/tenants/{}/terminate", t.id))).send().await.unwrap().json().await.unwrap();
    assert!(r["terminated_at"].is_string(), "the end date is recorded");
    let (s, c) = code(op.post(app.at(&format!("/api/v1/tenants/{}/terminate", t.id))).send().await.unwrap()).await;
    assert_eq!((s, c.as_str()), (409, "already_terminated"));
}

#[tokio::test]
async fn operators_cannot_read_tenant_data_and_users_cannot_manage_tenants() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    for path in ["/api/v1/users", "/api/v1/me", "/api/v1/tokens"] {
        assert_eq!(op.get(app.at(path)).send().await.unwrap().status(), 403, "operator on {path}");
    }
    assert_eq!(t.owner.get(app.at("/api/v1/tenants")).send().await.unwrap().status(), 403);
    let body =
        json!({ "name": "X", "contact_name": "X Y", "contact_email": "x@y.se", "contact_phone": "+46701234567" });
    assert_eq!(t.owner.post(app.at("/api/v1/tenants")).json(&body).send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn tenant_creation_validates_every_field_and_slugs_are_unique() {
    let app = app();
    let op = app.operator().await;
    let bad = json!({ "name": "", "contact_name": "Ada", "contact_email": "nope", "contact_phone": "0701" });
    let v: Value = op.post(app.at("/api/v1/tenants")).json(&bad).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["error"]["code"], "validation_failed");
    let fields: Vec<&str> =
        v["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "contact_email", "contact_phone"]);
    let good = json!({ "name": "Acme Bank AB", "contact_name": "Ada", "contact_email": "a@acme.se", "contact_phone": "+46701234567" });
    let v: Value = op.post(app.at("/api/v1/tenants")).json(&good).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["tenant"]["slug"], "acme-bank-ab", "slug derived from the name");
    assert_eq!(v["owner"]["role"], "owner");
    assert_eq!(v["owner"]["activated"], false);
    assert_eq!(
        code(op.post(app.at("/api/v1/tenants")).json(&good).send().await.unwrap()).await,
        (409, "slug_taken".into())
    );
}

#[tokio::test]
async fn a_purge_after_the_export_window_deletes_the_tenants_data_subject_requests() {
    let app = crate::app_with(&[], &[("VALV_EXPORT_WINDOW_DAYS", "0")]);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let filed = valv_testkit::client()
        .post(app.at("/api/v1/public/acme/requests"))
        .json(&serde_json::json!({ "kind": "access", "email": "eve@x.example", "message": "all about me" }))
        .send()
        .await
        .unwrap();
    assert_eq!(filed.status(), 202);
    op.post(app.at(&format!("/api/v1/tenants/{}/terminate", t.id))).send().await.unwrap();

    let out = app.cli(&["tenant", "purge-expired", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let receipts: Value = serde_json::from_slice(&out.stdout).unwrap();
    let deleted = &receipts[0]["deleted"];
    assert_eq!(deleted["requests"], 1, "the subject's request went with the tenant: {deleted}");
    assert_eq!(deleted["users"], 1, "and its owner: {deleted}");
}
