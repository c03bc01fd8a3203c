//! Bad input is refused with a stable code and changes nothing: malformed,
//! unknown, oversized and mistyped bodies, forged cookies, and SQL and HTML
//! metacharacters, which are stored verbatim.

use reqwest::{Client, Method};
use serde_json::{Value, json};
use valv_testkit::{Answer, PASSWORD, client};

use crate::{app, code};

/// The status and error code of an answer.
fn coded(a: Answer) -> (u16, String) {
    (a.status.as_u16(), a.body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

/// Posts `text` as a new user, raw: bodies the typed client never sends (cut JSON, a form, 70 kB).
async fn raw_user(app: &valv_testkit::TestApp, c: &Client, content_type: Option<&str>, text: String) -> (u16, String) {
    let mut req = c.post(app.at("/api/v1/users")).body(text);
    if let Some(t) = content_type {
        req = req.header("content-type", t);
    }
    code(req.send().await.unwrap()).await
}

#[tokio::test]
async fn malformed_unknown_oversized_and_mistyped_bodies_are_refused_without_change() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let before = app.journal(&t.owner).await.len();
    let c = &t.owner;
    let user = async |body: Value| coded(api.create_user(c, body).await);
    let as_json = Some("application/json");
    let cases: Vec<(&str, (u16, String), u16, &str)> = vec![
        ("cut JSON", raw_user(&app, c, as_json, "{\"name\": ".into()).await, 400, "malformed_json"),
        (
            "unknown field",
            user(json!({ "name": "A", "email": "a@b.se", "phone": "+46701234567", "role": "member", "admin": true }))
                .await,
            422,
            "invalid_body",
        ),
        (
            "mistyped name",
            user(json!({ "name": 5, "email": "a@b.se", "phone": "+46701234567", "role": "member" })).await,
            422,
            "invalid_body",
        ),
        ("a form", raw_user(&app, c, None, "name=x".into()).await, 415, "unsupported_media_type"),
        (
            "70 kB name",
            raw_user(&app, c, as_json, format!("{{\"name\": \"{}\"}}", "x".repeat(70_000))).await,
            413,
            "body_too_large",
        ),
        (
            "bad email",
            user(json!({ "name": "A", "email": "not-an-email", "phone": "+46701234567", "role": "member" })).await,
            422,
            "validation_failed",
        ),
        (
            "bad phone",
            user(json!({ "name": "A", "email": "a@b.se", "phone": "12345", "role": "member" })).await,
            422,
            "validation_failed",
        ),
        ("id not a UUID", coded(api.user(c, "not-a-uuid").await), 404, "not_found"),
        ("unknown id", coded(api.user(c, "0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d").await), 404, "not_found"),
        ("limit not a number", coded(api.journal_where(c, "limit=abc").await), 400, "invalid_query"),
        ("from not a time", coded(api.journal_where(c, "from=yesterday").await), 400, "invalid_query"),
        ("limit too high", coded(api.journal_where(c, "limit=100000").await), 422, "validation_failed"),
    ];
    for (case, got, status, want) in cases {
        assert_eq!(got, (status, want.to_owned()), "{case}");
    }
    assert_eq!(app.journal(&t.owner).await.len(), before, "refused requests journaled nothing");
    assert_eq!(api.users(c).await.ok().as_array().unwrap().len(), 1, "no user was created");
}

#[tokio::test]
async fn forged_and_unknown_cookies_are_refused() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let r = api.sign_in(&client(), "acme", &t.owner_email, PASSWORD).await;
    let set = r.headers["set-cookie"].to_str().unwrap().to_owned();
    let value = set.split(';').next().unwrap().trim_start_matches("__Host-valv_session=").to_owned();
    let (id, _) = value.split_once('.').unwrap();
    // No cookie store: each request carries exactly the cookie given.
    let plain = Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let me = async |cookie: &str| {
        let header = format!("__Host-valv_session={cookie}");
        api.send(&plain, Method::GET, "/api/v1/me", None, &[("cookie", &header)]).await.status
    };
    for cookie in [format!("{id}.forgedsecret"), "unknown.secret".into(), "garbage".into(), String::new()] {
        assert_eq!(me(&cookie).await, 401, "cookie {cookie:?}");
    }
    assert_eq!(me(&value).await, 200, "the real cookie works");
}

#[tokio::test]
async fn sql_and_html_metacharacters_are_stored_verbatim_and_harmless() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let nasty = "Robert'); DROP TABLE users;-- <script>alert(1)</script> & \"quotes\"";
    let body =
        json!({ "name": nasty, "email": "bobby+tables@acme.example", "phone": "+46701234501", "role": "member" });
    let r = api.create_user(&t.owner, body).await;
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(r.created()["name"], nasty, "stored and returned exactly");
    assert_eq!(api.users(&t.owner).await.ok().as_array().unwrap().len(), 2, "the users table is intact");
    let (_, status, _) = app.sign_in("acme' OR '1'='1", "x' OR 1=1 --", "' OR ''='").await;
    assert_eq!(status, 401);
}
