use serde_json::{Value, json};
use valv_testkit::{PASSWORD, client};

use crate::{app, code};

#[tokio::test]
async fn malformed_unknown_oversized_and_mistyped_bodies_are_refused_without_change() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let before = app.journal(&t.owner).await.len();
    let users = app.at("/api/v1/users");
    let c = &t.owner;
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (c.post(&users).header("content-type", "application/json").body("{\"name\": "), 400, "malformed_json"),
        (
            c.post(&users).json(
                &json!({ "name": "A", "email": "a@b.se", "phone": "+46701234567", "role": "member", "admin": true }),
            ),
            422,
            "invalid_body",
        ),
        (
            c.post(&users).json(&json!({ "name": 5, "email": "a@b.se", "phone": "+46701234567", "role": "member" })),
            422,
            "invalid_body",
        ),
        (c.post(&users).body("name=x"), 415, "unsupported_media_type"),
        (
            c.post(&users)
                .header("content-type", "application/json")
                .body(format!("{{\"name\": \"{}\"}}", "x".repeat(70_000))),
            413,
            "body_too_large",
        ),
        (
            c.post(&users)
                .json(&json!({ "name": "A", "email": "not-an-email", "phone": "+46701234567", "role": "member" })),
            422,
            "validation_failed",
        ),
        (
            c.post(&users).json(&json!({ "name": "A", "email": "a@b.se", "phone": "12345", "role": "member" })),
            422,
            "validation_failed",
        ),
        (c.get(app.at("/api/v1/users/not-a-uuid")), 404, "not_found"),
        (c.get(app.at("/api/v1/users/0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d")), 404, "not_found"),
        (c.get(app.at("/api/v1/journal?limit=abc")), 400, "invalid_query"),
        (c.get(app.at("/api/v1/journal?from=yesterday")), 400, "invalid_query"),
        (c.get(app.at("/api/v1/journal?limit=100000")), 422, "validation_failed"),
    ];
    for (i, (req, status, want)) in cases.into_iter().enumerate() {
        assert_eq!(code(req.send().await.unwrap()).await, (status, want.to_owned()), "case {i}");
    }
    assert_eq!(app.journal(&t.owner).await.len(), before, "refused requests journaled nothing");
    let list: Value = c.get(&users).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "no user was created");
}

#[tokio::test]
async fn forged_and_unknown_cookies_are_refused() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let r = client()
        .post(app.at("/api/v1/auth/sign-in"))
        .json(&json!({ "tenant": "acme", "email": t.owner_email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let value = set.split(';').next().unwrap().trim_start_matches("__Host-valv_session=").to_owned();
    let (id, _) = value.split_once('.').unwrap();
    let plain = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    for cookie in [format!("{id}.forgedsecret"), "unknown.secret".into(), "garbage".into(), String::new()] {
        let r = plain
            .get(app.at("/api/v1/me"))
            .header("cookie", format!("__Host-valv_session={cookie}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "cookie {cookie:?}");
    }
    let r =
        plain.get(app.at("/api/v1/me")).header("cookie", format!("__Host-valv_session={value}")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the real cookie works");
}

#[tokio::test]
async fn sql_and_html_metacharacters_are_stored_verbatim_and_harmless() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let nasty = "Robert'); DROP TABLE users;-- <script>alert(1)</script> & \"quotes\"";
    let body =
        json!({ "name": nasty, "email": "bobby+tables@acme.example", "phone": "+46701234501", "role": "member" });
    let r = t.owner.post(app.at("/api/v1/users")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["name"], nasty, "stored and returned exactly");
    let list: Value = t.owner.get(app.at("/api/v1/users")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "the users table is intact");
    let (_, status, _) = app.sign_in("acme' OR '1'='1", "x' OR 1=1 --", "' OR ''='").await;
    assert_eq!(status, 401);
}
