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

/// Review L3: a token cannot make tokens (a stolen one would renew itself),
/// and a password change revokes every token of the user.
#[tokio::test]
async fn tokens_are_made_in_sessions_only_and_die_with_a_password_change() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (_, secret) = token(&api, &t.owner, "owner").await;
    let script = bearer(&secret);
    api.create_token(&script, json!({ "name": "heir", "expires_in_days": 365 })).await.error(403, "forbidden");
    api.change_password(&script, valv_testkit::PASSWORD, "another-long-pass-phrase-77").await.error(403, "forbidden");
    assert_eq!(api.me(&script).await.status, 200, "the token works until the password changes");

    assert_eq!(api.change_password(&t.owner, valv_testkit::PASSWORD, "another-long-pass-phrase-77").await.status, 204);
    assert_eq!(api.me(&script).await.status, 401, "revoked with the password change");
    assert_eq!(api.me(&t.owner).await.status, 200, "the session that changed it goes on");
}

/// Review L2: changing the password is no oracle for the current one. The
/// new password is judged first, and wrong current passwords lock.
#[tokio::test]
async fn wrong_current_passwords_are_counted_and_locked() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    api.change_password(&t.owner, "guess-0", "x").await.error(422, "password_too_short");
    api.change_password(&t.owner, valv_testkit::PASSWORD, "x").await.error(422, "password_too_short");
    for i in 0..6 {
        let answer = api.change_password(&t.owner, &format!("guess-number-{i}"), "another-long-pass-phrase-77").await;
        assert_eq!(answer.status, 401, "guess {i}");
    }
    let locked = api.change_password(&t.owner, valv_testkit::PASSWORD, "another-long-pass-phrase-77").await;
    locked.error(429, "sign_in_locked");
}
