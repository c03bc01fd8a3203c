use serde_json::{Value, json};
use valv_testkit::PASSWORD;

use crate::app;

#[tokio::test]
async fn operators_create_list_show_block_unblock_and_terminate_tenants() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    assert_eq!(api.tenants(&op).await.ok().as_array().unwrap().len(), 1);
    let shown = api.tenant(&op, &t.id).await.ok();
    assert_eq!((&shown["slug"], &shown["contact_email"]), (&json!("acme"), &json!("owner@acme.example")));

    assert_eq!(api.tenant_action(&op, &t.id, "block").await.ok()["status"], "blocked");
    api.me(&t.owner).await.error(403, "tenant_blocked");
    let (_, status, body) = app.sign_in("acme", &t.owner_email, PASSWORD).await;
    assert_eq!((status.as_u16(), &body["error"]["code"]), (403, &json!("tenant_blocked")), "no new sign-in either");
    assert!(body["error"]["message"].as_str().unwrap().contains("organisation is blocked"));

    let _ = api.tenant_action(&op, &t.id, "unblock").await.ok();
    let _ = api.me(&t.owner).await.ok();
    let ended = api.tenant_action(&op, &t.id, "terminate").await.ok();
    assert!(ended["terminated_at"].is_string(), "the end date is recorded");
    api.tenant_action(&op, &t.id, "terminate").await.error(409, "already_terminated");
}

#[tokio::test]
async fn operators_cannot_read_tenant_data_and_users_cannot_manage_tenants() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    for path in ["/api/v1/users", "/api/v1/me", "/api/v1/tokens"] {
        let answer = api.send(&op, reqwest::Method::GET, path, None, &[]).await;
        assert_eq!(answer.status, 403, "operator on {path}");
    }
    assert_eq!(api.tenants(&t.owner).await.status, 403);
    let body =
        json!({ "name": "X", "contact_name": "X Y", "contact_email": "x@y.se", "contact_phone": "+46701234567" });
    assert_eq!(api.create_tenant(&t.owner, body).await.status, 403);
}

#[tokio::test]
async fn tenant_creation_validates_every_field_and_slugs_are_unique() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let bad = json!({ "name": "", "contact_name": "Ada", "contact_email": "nope", "contact_phone": "0701" });
    assert_eq!(api.create_tenant(&op, bad).await.refused_fields(), ["name", "contact_email", "contact_phone"]);
    let good = json!({ "name": "Acme Bank AB", "contact_name": "Ada", "contact_email": "a@acme.se", "contact_phone": "+46701234567" });
    let made = api.create_tenant(&op, good.clone()).await.created();
    assert_eq!(made["tenant"]["slug"], "acme-bank-ab", "slug derived from the name");
    assert_eq!((&made["owner"]["role"], &made["owner"]["activated"]), (&json!("owner"), &json!(false)));
    api.create_tenant(&op, good).await.error(409, "slug_taken");
}

#[tokio::test]
async fn a_purge_after_the_export_window_deletes_the_tenants_data_subject_requests() {
    let app = crate::app_with(&[], &[("VALV_EXPORT_WINDOW_DAYS", "0")]);
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let body = json!({ "kind": "access", "email": "eve@x.example", "message": "all about me" });
    assert_eq!(api.file_request_with("acme", body).await.status, 202);
    let _ = api.tenant_action(&op, &t.id, "terminate").await.ok();

    let out = app.cli(&["tenant", "purge-expired", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let receipts: Value = serde_json::from_slice(&out.stdout).unwrap();
    let deleted = &receipts[0]["deleted"];
    assert_eq!(deleted["requests"], 1, "the subject's request went with the tenant: {deleted}");
    assert_eq!(deleted["users"], 1, "and its owner: {deleted}");
}
