//! Signing in: the session cookie, the second factor (TOTP, recovery codes,
//! codes by e-mail), lockout after failures, password changes and hash
//! upgrades, the client address behind proxies and cross-site refusals.

use reqwest::Method;
use serde_json::json;
use valv_testkit::{PASSWORD, client, totp_code};

use crate::{app, app_with};

#[tokio::test]
async fn the_session_cookie_is_httponly_secure_strict_and_rotated_at_sign_in() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let c = client();
    let mut cookies = Vec::new();
    for _ in 0..2 {
        let r = api.sign_in(&c, "acme", &t.owner_email, PASSWORD).await;
        let set = r.headers["set-cookie"].to_str().unwrap().to_owned();
        for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(flag), "{flag} in {set}");
        }
        cookies.push(set);
    }
    assert_ne!(cookies[0], cookies[1], "every sign-in gets a new session id");
    assert_eq!(api.sign_out(&c).await.status, 204);
    assert_eq!(api.me(&c).await.status, 401, "signed out");
}

#[tokio::test]
async fn totp_enrolment_sign_in_replay_and_recovery_codes() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let e = api.begin_totp(&t.owner).await.ok();
    let secret = e["secret"].as_str().unwrap().to_owned();
    assert!(e["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/"));
    // RFC 6238 §5.1: the shared secret is sealed at rest, in the database and its journal alike.
    assert_eq!(app.files_holding(secret.as_bytes()), Vec::<std::path::PathBuf>::new(), "no file holds the secret");
    api.confirm_totp(&t.owner, "000000x").await.error(401, "code_invalid");
    let r = api.confirm_totp(&t.owner, &totp_code(&secret, 0)).await.ok();
    let recovery: Vec<String> =
        r["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(recovery.len(), 10);

    let (c, status, body) = app.sign_in("acme", &t.owner_email, PASSWORD).await;
    assert_eq!((status.as_u16(), body["status"].as_str()), (200, Some("second_factor_required")));
    assert_eq!(api.me(&c).await.status, 401, "no access before the second factor");
    let next = totp_code(&secret, 1);
    assert_eq!(api.second_factor(&c, "totp", &next).await.status, 200);
    assert_eq!(api.me(&c).await.status, 200);

    let (c2, _, _) = app.sign_in("acme", &t.owner_email, PASSWORD).await;
    // A used TOTP code is refused.
    api.second_factor(&c2, "totp", &next).await.error(401, "code_replayed");
    let rc = recovery[0].to_uppercase();
    assert_eq!(api.second_factor(&c2, "recovery_code", &rc).await.status, 200);
    let (c3, _, _) = app.sign_in("acme", &t.owner_email, PASSWORD).await;
    // A recovery code works once.
    api.second_factor(&c3, "recovery_code", &rc).await.error(401, "code_invalid");
    assert_eq!(api.me(&c2).await.ok()["recovery_codes_left"], 9);
}

#[tokio::test]
async fn a_tenant_can_require_a_second_factor_sent_by_email_and_no_code_goes_by_text() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (_, _member) = app.member(&t, "bo@acme.example", "member").await;
    let required = api.update_own_tenant(&t.owner, json!({ "require_second_factor": true })).await.ok();
    assert_eq!(required["require_second_factor"], true);
    let (c, _, body) = app.sign_in("acme", "bo@acme.example", PASSWORD).await;
    assert_eq!(body["status"], "second_factor_required");
    assert_eq!(body["methods"], json!(["email"]), "review M4: no text messages without a gateway");
    api.send_code(&c, "sms").await.error(422, "channel_unavailable");
    assert!(app.outbox().iter().all(|m| m["to"]["address"] != "+46701234599"), "nothing was written for a phone");
    assert_eq!(api.send_code(&c, "email").await.status, 204);
    assert_eq!(app.sent_code("bo@acme.example").len(), 6, "code delivered to the outbox");
    assert_eq!(api.second_factor(&c, "code", "999999x").await.status, 401);
    assert_eq!(api.second_factor(&c, "code", &app.sent_code("bo@acme.example")).await.status, 200);
    assert_eq!(api.me(&c).await.status, 200);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_temporarily() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    for i in 0..5 {
        let (_, status, body) = app.sign_in("acme", &t.owner_email, "wrong-password-123").await;
        assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (401, Some("bad_credentials")), "attempt {i}");
    }
    let _ = app.sign_in("acme", &t.owner_email, "wrong-password-123").await;
    let r = app.api().sign_in(&client(), "acme", &t.owner_email, PASSWORD).await;
    assert_eq!(r.status, 429, "locked even with the right password");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    r.error(429, "sign_in_locked");
    let failed = app.journal(&t.owner).await.iter().filter(|e| e["action"] == "auth.sign_in_failed").count();
    assert_eq!(failed, 6, "every failed attempt is journaled");
}

#[tokio::test]
async fn a_password_change_ends_the_users_other_sessions() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (other, _, _) = app.sign_in("acme", &t.owner_email, PASSWORD).await;
    let new = "quartz-lantern-71-meadow-fig";
    assert_eq!(api.change_password(&t.owner, PASSWORD, new).await.status, 204);
    assert_eq!(api.me(&t.owner).await.status, 200, "this session stays");
    assert_eq!(api.me(&other).await.status, 401, "the other one ended");
    assert_eq!(app.sign_in("acme", &t.owner_email, PASSWORD).await.1, 401, "the old password is gone");
    let wrong = api.change_password(&t.owner, "nope-nope-nope-1", new).await;
    assert_eq!(wrong.body["error"]["code"], "bad_credentials");
}

#[tokio::test]
async fn pbkdf2_hashes_verify_and_are_upgraded_to_argon2id_at_sign_in() {
    let app = app_with(&[], &[("VALV_PASSWORD_KDF", "pbkdf2-sha256")]);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let store = crate::stored(&app).await;
    let (tenant, owner) =
        (valv_domain::TenantId::parse(&t.id).unwrap(), valv_domain::UserId::parse(&t.owner_id).unwrap());
    let hash = || async { store.user(tenant, owner).await.unwrap().unwrap().password_hash.unwrap() };
    assert!(hash().await.starts_with("$pbkdf2-sha256$i=600000"), "{}", hash().await);
    drop(t);
    // Restart on the same data with the default KDF.
    let bin = app.bin.clone();
    let data = app.data_dir();
    let mut server = std::process::Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut line).unwrap();
    let url = line.trim().strip_prefix("valv listening on ").unwrap().to_owned();
    let body = json!({ "tenant": "acme", "email": "owner@acme.example", "password": PASSWORD });
    // Raw: this server is started by hand, beside the test app, so no typed client addresses it.
    let r = client().post(format!("{url}/api/v1/auth/sign-in")).json(&body).send().await.unwrap();
    let status = r.status();
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(status, 200);
    assert!(hash().await.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "upgraded: {}", hash().await);
}

/// Review M6: behind a proxy the operator trusts, the client is the address
/// the proxy names (and the journal records it); from anyone else the
/// forwarding headers are ignored, since anyone can send them.
#[tokio::test]
async fn the_client_address_comes_from_a_trusted_proxy_only() {
    let failed_from = async |app: &valv_testkit::TestApp| {
        let op = app.operator().await;
        let t = app.tenant(&op, "acme").await;
        let body = json!({ "tenant": "acme", "email": t.owner_email, "password": "wrong-password-123" });
        let forwarded = [("x-forwarded-for", "198.51.100.1, 203.0.113.9")];
        let r = app.api().send(&client(), Method::POST, "/api/v1/auth/sign-in", Some(&body), &forwarded).await;
        assert_eq!(r.status, 401);
        let journal = app.journal(&t.owner).await;
        let failed = journal.iter().find(|e| e["action"] == "auth.sign_in_failed").unwrap();
        failed["detail"]["client"].as_str().unwrap().to_owned()
    };
    let behind = app_with(&[], &[("VALV_TRUSTED_PROXIES", "[\"127.0.0.1\"]")]);
    assert_eq!(failed_from(&behind).await, "203.0.113.9", "the hop the trusted proxy appended");
    assert_eq!(failed_from(&app()).await, "127.0.0.1", "an untrusted peer's header is ignored");
}

/// Review L11: request ids are the server's; one a client sends is neither
/// echoed in the answer's header nor in an error body.
#[tokio::test]
async fn request_ids_are_made_by_the_server() {
    let app = app();
    let forged = [("x-request-id", "forged-id")];
    let r = app.api().send(&client(), Method::GET, "/api/v1/me", None, &forged).await;
    let header = r.headers["x-request-id"].to_str().unwrap();
    assert_ne!(header, "forged-id");
    assert!(uuid::Uuid::parse_str(header).is_ok(), "{header}");
    assert_eq!(r.body["error"]["request_id"], header, "the body names the same id");
}

/// Review L6: a page of another site (or a sibling subdomain) cannot make
/// a signed-in browser change anything, whatever the body's type; the
/// cookie is `__Host-` and lives as long as the session.
#[tokio::test]
async fn cross_site_state_changes_are_refused_and_the_cookie_is_host_bound() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (bo, _) = app.member(&t, "bo@acme.example", "member").await;
    let block = format!("/api/v1/users/{bo}/block");
    // Raw: a form body and a plain upload, as another site's page would send them.
    for (name, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "same-site")] {
        let r = t.owner.post(app.at(&block)).header(name, value);
        let r = r.header("content-type", "application/x-www-form-urlencoded").body("a=b").send().await.unwrap();
        assert_eq!(crate::code(r).await, (403, "cross_origin_refused".into()), "{name}");
    }
    let planted = t.owner.post(app.at("/api/v1/files?name=planted.txt")).header("origin", "https://evil.example");
    assert_eq!(planted.body("x").send().await.unwrap().status(), 403);
    let own = [("origin", app.url.as_str()), ("sec-fetch-site", "same-origin")];
    assert_eq!(api.send(&t.owner, Method::POST, &block, None, &own).await.status, 200, "valv's own origin passes");

    let r = api.sign_in(&client(), "acme", &t.owner_email, PASSWORD).await;
    let set = r.headers["set-cookie"].to_str().unwrap();
    assert!(set.starts_with("__Host-valv_session="), "{set}");
    assert!(set.contains("Max-Age=43200"), "session_hours (12) in seconds: {set}");

    let short = app_with(&[], &[("VALV_SESSION_HOURS", "2")]);
    let op = short.operator().await;
    let t = short.tenant(&op, "acme").await;
    let r = short.api().sign_in(&client(), "acme", &t.owner_email, PASSWORD).await;
    assert!(r.headers["set-cookie"].to_str().unwrap().contains("Max-Age=7200"), "session_hours = 2");
}
