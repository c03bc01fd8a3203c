use serde_json::json;
use valv_testkit::{PASSWORD, client, totp_code};

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

/// Review M5: an operator can terminate any tenant, so the password alone
/// opens nothing. Setup gives the authenticator secret; a code from it
/// completes every sign-in; a lost phone is replaced on the server.
#[tokio::test]
async fn operators_sign_in_with_a_password_and_an_authenticator_code() {
    let app = app();
    let api = app.api();
    let token = app.setup_token.clone().unwrap();
    let body = json!({ "setup_token": token, "name": "Olle Op", "email": "ops@x.example", "password": PASSWORD });
    let set_up = api.setup(body).await.created();
    let secret = set_up["totp"]["secret"].as_str().unwrap().to_owned();
    assert!(set_up["totp"]["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/"));

    let op = client();
    let pending = api.operator_sign_in(&op, "ops@x.example", PASSWORD).await.ok();
    assert_eq!((pending["status"].as_str(), &pending["methods"]), (Some("second_factor_required"), &json!(["totp"])));
    assert_eq!(api.tenants(&op).await.status, 401, "nothing before the code");
    assert_eq!(api.second_factor(&op, "totp", "000000").await.status, 401);
    assert_eq!(api.second_factor(&op, "totp", &totp_code(&secret, 0)).await.status, 200);
    assert_eq!(api.tenants(&op).await.status, 200);

    let reset = app.cli(&["operator", "totp", "--email", "ops@x.example", "--json"]);
    assert!(reset.status.success(), "{}", String::from_utf8_lossy(&reset.stderr));
    let fresh: serde_json::Value = serde_json::from_slice(&reset.stdout).unwrap();
    assert_eq!(api.tenants(&op).await.status, 401, "the reset ended the session");
    let again = client();
    let _ = api.operator_sign_in(&again, "ops@x.example", PASSWORD).await.ok();
    let old = api.second_factor(&again, "totp", &totp_code(&secret, 1)).await;
    assert_eq!(old.status, 401, "the lost secret no longer works");
    let new = api.second_factor(&again, "totp", &totp_code(fresh["secret"].as_str().unwrap(), 0)).await;
    assert_eq!(new.status, 200, "the new one does: {}", new.body);
}
