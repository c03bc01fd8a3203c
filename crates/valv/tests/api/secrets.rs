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
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let body = json!({ "name": "Sam Secret", "email": "sam@acme.example", "phone": "+46701234502", "role": "member" });
    let _ = api.create_user(&t.owner, body).await.created();
    let mut answers = vec![api.activate(&app.invitation("sam@acme.example"), KNOWN).await];
    for password in [KNOWN, "Glacier-Mosaic-8841-Tangerinf"] {
        answers.push(api.sign_in(&client(), "acme", "sam@acme.example", password).await);
    }
    answers.push(api.activate("x.y.z", KNOWN).await);
    assert_eq!(answers[1].status, 200, "the right password signs in");
    let answered: String = answers.iter().map(|a| a.body.to_string()).collect();
    assert!(!answered.contains(KNOWN), "answers never echo a password");
    assert!(!app.logs().contains(KNOWN), "logs never hold a password");
    assert!(app.logs().contains("/api/v1/auth/sign-in"), "the requests were logged");
    assert_eq!(app.files_holding(KNOWN.as_bytes()), Vec::<std::path::PathBuf>::new(), "no file holds the password");
}
