use serde_json::{Value, json};
use valv_testkit::client;

use crate::{app, code};

async fn bearer(app: &valv_testkit::TestApp, owner: &reqwest::Client, role: &str) -> (String, String) {
    let r = owner
        .post(app.at("/api/v1/tokens"))
        .json(&json!({ "name": "ci", "role": role, "expires_in_days": 7 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    (v["id"].as_str().unwrap().to_owned(), v["secret"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn api_tokens_are_scoped_to_a_role_and_revocable() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let (id, secret) = bearer(&app, &t.owner, "viewer").await;
    assert!(secret.starts_with("valv_"));
    let c = client();
    let me: Value = c.get(app.at("/api/v1/me")).bearer_auth(&secret).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["email"], t.owner_email.as_str());
    assert_eq!(c.get(app.at("/api/v1/users")).bearer_auth(&secret).send().await.unwrap().status(), 403, "viewer scope");
    let list: Value = t.owner.get(app.at("/api/v1/tokens")).send().await.unwrap().json().await.unwrap();
    assert!(list[0].get("secret").is_none() && list[0].get("secret_digest").is_none(), "secrets are never listed");
    let r = t.owner.delete(app.at(&format!("/api/v1/tokens/{id}"))).send().await.unwrap();
    assert!(r.json::<Value>().await.unwrap()["revoked_at"].is_string());
    assert_eq!(
        code(c.get(app.at("/api/v1/me")).bearer_auth(&secret).send().await.unwrap()).await,
        (401, "token_invalid".into())
    );
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_refused() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let (id, secret) = bearer(&app, &t.owner, "admin").await;
    let forged = format!("valv_{id}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let c = client();
    for token in [forged.as_str(), "valv_nonsense", "", "valv_.x", &secret[..secret.len() - 1]] {
        let r = c.get(app.at("/api/v1/me")).header("authorization", format!("Bearer {token}")).send().await.unwrap();
        assert_eq!(r.status(), 401, "token {token:?}");
    }
    let r = t.owner.post(app.at("/api/v1/tokens")).json(&json!({ "name": "x", "role": "owner" })).send().await.unwrap();
    assert_eq!(r.status(), 201, "an owner may mint an owner token");
    let (_, admin) = app.member(&t, "adm@acme.example", "admin").await;
    let r = admin.post(app.at("/api/v1/tokens")).json(&json!({ "name": "x", "role": "owner" })).send().await.unwrap();
    assert_eq!(r.status(), 403, "no token above the creator's role");
    let r = admin
        .post(app.at("/api/v1/tokens"))
        .json(&json!({ "name": "x", "expires_in_days": 400 }))
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (422, "validation_failed".into()));
}

#[tokio::test]
async fn blocking_a_user_revokes_their_tokens_at_once() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let (uid, member) = app.member(&t, "bo@acme.example", "member").await;
    let (_, secret) = bearer(&app, &member, "member").await;
    let c = client();
    assert_eq!(c.get(app.at("/api/v1/me")).bearer_auth(&secret).send().await.unwrap().status(), 200);
    t.owner.post(app.at(&format!("/api/v1/users/{uid}/block"))).send().await.unwrap();
    assert_eq!(c.get(app.at("/api/v1/me")).bearer_auth(&secret).send().await.unwrap().status(), 401);
    t.owner.post(app.at(&format!("/api/v1/users/{uid}/unblock"))).send().await.unwrap();
    assert_eq!(
        c.get(app.at("/api/v1/me")).bearer_auth(&secret).send().await.unwrap().status(),
        401,
        "revoked for good"
    );
}
