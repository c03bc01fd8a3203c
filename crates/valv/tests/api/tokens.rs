use serde_json::json;
use valv_testkit::{Api, bearer};

use crate::app;

/// A new token of the user signed in on `who` with `role`: its id and secret.
async fn token(api: &Api<'_>, who: &reqwest::Client, role: &str) -> (String, String) {
    let made = api.create_token(who, json!({ "name": "ci", "role": role, "expires_in_days": 7 })).await.created();
    (made["id"].as_str().unwrap().to_owned(), made["secret"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn api_tokens_are_scoped_to_a_role_and_revocable() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (id, secret) = token(&api, &t.owner, "viewer").await;
    assert!(secret.starts_with("valv_"));
    let script = bearer(&secret);
    assert_eq!(api.me(&script).await.ok()["email"], t.owner_email.as_str());
    assert_eq!(api.users(&script).await.status, 403, "viewer scope");
    let list = api.tokens(&t.owner).await.ok();
    assert!(list[0].get("secret").is_none() && list[0].get("secret_digest").is_none(), "secrets are never listed");
    assert!(api.revoke_token(&t.owner, &id).await.ok()["revoked_at"].is_string());
    api.me(&script).await.error(401, "token_invalid");
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_refused() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (id, secret) = token(&api, &t.owner, "admin").await;
    let forged = format!("valv_{id}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    for token in [forged.as_str(), "valv_nonsense", "", "valv_.x", &secret[..secret.len() - 1]] {
        assert_eq!(api.me(&bearer(token)).await.status, 401, "token {token:?}");
    }
    let _ = api.create_token(&t.owner, json!({ "name": "x", "role": "owner" })).await.created();
    let (_, admin) = app.member(&t, "adm@acme.example", "admin").await;
    let above = api.create_token(&admin, json!({ "name": "x", "role": "owner" })).await;
    assert_eq!(above.status, 403, "no token above the creator's role");
    let long = api.create_token(&admin, json!({ "name": "x", "expires_in_days": 400 })).await;
    long.error(422, "validation_failed");
}

#[tokio::test]
async fn blocking_a_user_revokes_their_tokens_at_once() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (uid, member) = app.member(&t, "bo@acme.example", "member").await;
    let script = bearer(&token(&api, &member, "member").await.1);
    let _ = api.me(&script).await.ok();
    let _ = api.user_action(&t.owner, &uid, "block").await.ok();
    assert_eq!(api.me(&script).await.status, 401);
    let _ = api.user_action(&t.owner, &uid, "unblock").await.ok();
    assert_eq!(api.me(&script).await.status, 401, "revoked for good");
}
