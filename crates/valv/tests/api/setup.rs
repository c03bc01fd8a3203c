use serde_json::json;
use valv_testkit::{PASSWORD, client};

use crate::{app, code};

#[tokio::test]
async fn the_setup_token_creates_the_first_operator_once() {
    let app = app();
    let token = app.setup_token.clone().expect("first start prints a setup token");
    let c = client();
    let body = |t: &str| json!({ "setup_token": t, "name": "Olle Op", "email": "ops@x.example", "password": PASSWORD });
    assert_eq!(
        code(c.post(app.at("/api/v1/setup")).json(&body("wrong")).send().await.unwrap()).await,
        (401, "setup_token_invalid".into())
    );
    let weak = json!({ "setup_token": token, "name": "Olle Op", "email": "ops@x.example", "password": "password123" });
    let (s, _) = code(c.post(app.at("/api/v1/setup")).json(&weak).send().await.unwrap()).await;
    assert_eq!(s, 422, "a weak password is refused and does not burn the token");
    assert_eq!(c.post(app.at("/api/v1/setup")).json(&body(&token)).send().await.unwrap().status(), 201);
    assert_eq!(
        code(c.post(app.at("/api/v1/setup")).json(&body(&token)).send().await.unwrap()).await,
        (401, "setup_token_invalid".into())
    );
}

#[tokio::test]
async fn there_is_no_default_password() {
    let app = app();
    let c = client();
    for (email, password) in [("admin@localhost", "admin"), ("admin", "password"), ("root@localhost", "changeme")] {
        let r = c
            .post(app.at("/api/v1/operator/sign-in"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{email}/{password}");
    }
}

#[tokio::test]
async fn a_restarted_installation_with_an_operator_prints_no_token() {
    let app = app();
    app.operator().await;
    let again = valv_testkit::spawn_with(&app.bin, &[], &[]);
    assert!(again.setup_token.is_some(), "a fresh data dir prints one");
    drop(again);
    // Same data dir as `app`: start a second server on it.
    let data = app.data_dir();
    let mut second = app
        .command()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(second.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut out, &mut first).unwrap();
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(first.starts_with("valv listening on"), "no setup token once an operator exists: {first}");
}
