//! No password is ever logged, returned or stored in plain text: a user signs
//! up with a known password and signs in (rightly and wrongly), then every
//! log line and every file of the data dir is searched for it.

use serde_json::json;
use valv_testkit::client;

use crate::app;

const KNOWN: &str = "Glacier-Mosaic-8841-Tangerine";

#[tokio::test]
async fn a_known_password_never_reaches_logs_answers_or_disk() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let body = json!({ "name": "Sam Secret", "email": "sam@acme.example", "phone": "+46701234502", "role": "member" });
    t.owner.post(app.at("/api/v1/users")).json(&body).send().await.unwrap();
    let invitation = app.invitation("sam@acme.example");
    let r = client()
        .post(app.at("/api/v1/auth/activate"))
        .json(&json!({ "invitation": invitation, "password": KNOWN }))
        .send()
        .await
        .unwrap();
    let mut answers = r.text().await.unwrap();
    for password in [KNOWN, "Glacier-Mosaic-8841-Tangerinf"] {
        let r = client()
            .post(app.at("/api/v1/auth/sign-in"))
            .json(&json!({ "tenant": "acme", "email": "sam@acme.example", "password": password }))
            .send()
            .await
            .unwrap();
        answers.push_str(&r.text().await.unwrap());
    }
    let weak = client()
        .post(app.at("/api/v1/auth/activate"))
        .json(&json!({ "invitation": "x.y.z", "password": KNOWN }))
        .send()
        .await
        .unwrap();
    answers.push_str(&weak.text().await.unwrap());
    assert!(!answers.contains(KNOWN), "answers never echo a password");
    assert!(!app.logs().contains(KNOWN), "logs never hold a password");
    assert!(app.logs().contains("/api/v1/auth/sign-in"), "the requests were logged");
    assert_eq!(app.files_holding(KNOWN.as_bytes()), Vec::<std::path::PathBuf>::new(), "no file holds the password");
}
