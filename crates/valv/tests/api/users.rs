use serde_json::json;
use valv_testkit::PASSWORD;

use crate::app;

#[tokio::test]
async fn admins_create_edit_block_and_unblock_users() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (id, member) = app.member(&t, "bo@acme.example", "member").await;
    let edited = api.update_user(&t.owner, &id, json!({ "name": "Bo Ek", "role": "viewer" })).await.ok();
    assert_eq!((edited["name"].as_str(), edited["role"].as_str()), (Some("Bo Ek"), Some("viewer")));
    assert_eq!(api.me(&member).await.ok()["role"], "viewer");

    assert_eq!(api.user_action(&t.owner, &id, "block").await.ok()["status"], "blocked");
    assert_eq!(api.me(&member).await.status, 401, "blocking ended the session");
    let (_, status, body) = app.sign_in("acme", "bo@acme.example", PASSWORD).await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (403, Some("account_blocked")));
    assert!(body["error"]["message"].as_str().unwrap().contains("blocked"));

    let _ = api.user_action(&t.owner, &id, "unblock").await.ok();
    let (_, status, _) = app.sign_in("acme", "bo@acme.example", PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(api.users(&t.owner).await.ok().as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn user_fields_are_validated_and_emails_unique_per_tenant() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let (t, other) = (app.tenant(&op, "acme").await, app.tenant(&op, "other").await);
    let bad =
        api.create_user(&t.owner, json!({ "name": "Bo", "email": "bo@", "phone": "+46 70", "role": "king" })).await;
    let codes: Vec<&str> =
        bad.body["error"]["fields"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["invalid_email", "invalid_phone", "invalid_role"]);
    let good = json!({ "name": "Bo", "email": "bo@x.example", "phone": "+46701234599", "role": "member" });
    let _ = api.create_user(&t.owner, good.clone()).await.created();
    let shouting = json!({ "name": "Bo", "email": "BO@X.example", "phone": "+46701234599", "role": "member" });
    api.create_user(&t.owner, shouting).await.error(409, "email_taken");
    let _ = api.create_user(&other.owner, good).await.created();
}

#[tokio::test]
async fn roles_limit_what_can_be_granted_and_an_owner_always_remains() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (_, admin) = app.member(&t, "admin@acme.example", "admin").await;
    let (_, member) = app.member(&t, "m@acme.example", "member").await;
    let owner_body = json!({ "name": "Eve", "email": "eve@acme.example", "phone": "+46701234598", "role": "owner" });
    assert_eq!(api.create_user(&admin, owner_body).await.status, 403);
    assert_eq!(api.users(&member).await.status, 403, "members do not manage accounts");
    let me = &t.owner_id;
    api.update_user(&t.owner, me, json!({ "role": "admin" })).await.error(409, "last_owner");
    api.user_action(&t.owner, me, "block").await.error(409, "cannot_block_self");
    assert_eq!(api.user_action(&admin, me, "block").await.status, 403, "admins cannot block owners");
}

#[tokio::test]
async fn invited_users_cannot_sign_in_until_they_set_a_password() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let body = json!({ "name": "Cy", "email": "cy@acme.example", "phone": "+46701234597", "role": "member" });
    assert_eq!(api.create_user(&t.owner, body).await.created()["activated"], false);
    let (_, status, _) = app.sign_in("acme", "cy@acme.example", PASSWORD).await;
    assert_eq!(status, 401);
    let invitation = app.invitation("cy@acme.example");
    let v = api.activate(&invitation, "Cy-acme-2024").await.body;
    assert_eq!(v["error"]["code"], "password_contains_personal_data");
    assert!(v["error"]["feedback"]["score"].is_number(), "the strength meter's feedback comes along");
    app.activate("cy@acme.example").await;
    // An invitation works once.
    api.activate(&invitation, PASSWORD).await.error(401, "invitation_invalid");
    assert_eq!(app.sign_in("acme", "cy@acme.example", PASSWORD).await.1, 200);
}

/// New users' finding: with `--listen 127.0.0.1:0` messages named port 0.
/// They name the address valv really listens on, and no page that does not exist.
#[tokio::test]
async fn invitations_name_the_address_valv_listens_on() {
    let app = crate::app();
    let op = app.operator().await;
    let _ = app.tenant(&op, "acme").await;
    let mail = app.outbox().into_iter().rev().find(|m| m["to"]["address"] == "owner@acme.example").unwrap();
    let body = mail["body"].as_str().unwrap();
    let link = body.lines().find(|l| l.starts_with(&format!("{}/activate?code=", app.url))).expect(body);
    assert!(!body.contains(":0/"), "{body}");
    // Raw: the link leads to an HTML page, read as text, which the typed client does not do.
    let page = valv_testkit::client().get(link).send().await.unwrap();
    assert_eq!(page.status(), 200, "the link leads to the page that sets the password");
    assert!(page.text().await.unwrap().contains(&app.invitation("owner@acme.example")), "with the code filled in");
}
