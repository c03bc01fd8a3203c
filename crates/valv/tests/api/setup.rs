use serde_json::json;
use valv_testkit::{PASSWORD, client};

use crate::app;

#[tokio::test]
async fn the_setup_token_creates_the_first_operator_once() {
    let app = app();
    let api = app.api();
    let token = app.setup_token.clone().expect("first start prints a setup token");
    let body = |t: &str| json!({ "setup_token": t, "name": "Olle Op", "email": "ops@x.example", "password": PASSWORD });
    api.setup(body("wrong")).await.error(401, "setup_token_invalid");
    let weak = json!({ "setup_token": token, "name": "Olle Op", "email": "ops@x.example", "password": "password123" });
    assert_eq!(api.setup(weak).await.status, 422, "a weak password is refused and does not burn the token");
    let _ = api.setup(body(&token)).await.created();
    api.setup(body(&token)).await.error(401, "setup_token_invalid");
}

#[tokio::test]
async fn there_is_no_default_password() {
    let app = app();
    let api = app.api();
    for (email, password) in [("admin@localhost", "admin"), ("admin", "password"), ("root@localhost", "changeme")] {
        assert_eq!(api.operator_sign_in(&client(), email, password).await.status, 401, "{email}/{password}");
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
