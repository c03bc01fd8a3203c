//! No password is ever logged, returned or stored in plain text: a user signs
//! up with a known password and signs in (rightly and wrongly), then every
//! log line and every file of the data dir is searched for it; then every
//! secret valv handles is searched for the same way.

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

/// Review "beyond the findings": every secret valv handles, made in one
/// run with e-mail through a real SMTP server, is searched for in every file
/// of the data dir and in the log. Passwords, the session and API token
/// secrets, the recovery codes, the authenticator secrets of a user and an
/// operator, an e-mailed sign-in code, invitation codes, the setup token and
/// the metrics token appear nowhere; the master key only in its own file.
#[tokio::test]
async fn no_secret_is_kept_in_plain_text_anywhere_in_the_data_dir_or_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let (_smtpd, port) = crate::smtp::start_smtpd(&maildir).await;
    let url = format!("smtp://127.0.0.1:{port}");
    let app = crate::app_with(&[], &[("VALV_SMTP_URL", &url)]);
    let api = app.api();
    let mut secrets: Vec<(String, String)> = vec![("setup token".into(), app.setup_token.clone().unwrap())];
    secrets.push(("metrics token".into(), valv_testkit::METRICS_TOKEN.into()));
    let token = app.setup_token.clone().unwrap();
    let setup = json!({ "setup_token": token, "name": "Olle Op", "email": "ops@x.example", "password": KNOWN });
    let set_up = api.setup(setup).await.created();
    let op_secret = set_up["totp"]["secret"].as_str().unwrap().to_owned();
    secrets.push(("operator password".into(), KNOWN.into()));
    secrets.push(("operator TOTP secret".into(), op_secret.clone()));
    let op = client();
    let _ = api.operator_sign_in(&op, "ops@x.example", KNOWN).await.ok();
    let code = valv_testkit::totp_code(&op_secret, 0);
    assert_eq!(api.second_factor(&op, "totp", &code).await.status, 200);

    let tenant = json!({ "name": "Acme", "slug": "acme", "contact_name": "Ada Owner",
        "contact_email": "ada@acme.example", "contact_phone": "+46701234567" });
    assert_eq!(api.create_tenant(&op, tenant).await.status, 201);
    let invitation = |to: &str| {
        let mail = crate::smtp::mails(&maildir).into_iter().find(|m| m.contains(to)).expect("mailed");
        let unfolded = mail.replace("=\r\n", "").replace("=\n", "");
        unfolded.lines().rev().map(str::trim).find(|l| l.split('.').count() == 3 && l.len() > 80).unwrap().to_owned()
    };
    let ada_invitation = invitation("ada@acme.example");
    secrets.push(("invitation".into(), ada_invitation.clone()));
    let _ = api.activate(&ada_invitation, "Basalt-Lantern-7731-Quartz").await.ok();
    secrets.push(("owner password".into(), "Basalt-Lantern-7731-Quartz".into()));
    let owner = client();
    let _ = api.sign_in(&owner, "acme", "ada@acme.example", "Basalt-Lantern-7731-Quartz").await.ok();
    assert_eq!(api.me(&owner).await.status, 200);

    let made = api.create_token(&owner, json!({ "name": "ci", "expires_in_days": 7 })).await.created();
    secrets.push(("API token".into(), made["secret"].as_str().unwrap().to_owned()));
    let enrolment = api.begin_totp(&owner).await.ok();
    let user_secret = enrolment["secret"].as_str().unwrap().to_owned();
    secrets.push(("user TOTP secret".into(), user_secret.clone()));
    let codes = api.confirm_totp(&owner, &valv_testkit::totp_code(&user_secret, 0)).await.ok();
    for c in codes["recovery_codes"].as_array().unwrap() {
        secrets.push(("recovery code".into(), c.as_str().unwrap().to_owned()));
    }

    // A member without an app, in an organisation that requires a second factor: an e-mailed code.
    assert_eq!(api.update_own_tenant(&owner, json!({ "require_second_factor": true })).await.status, 200);
    let member = json!({ "name": "Bo Member", "email": "bo@acme.example", "phone": "+46701234599", "role": "member" });
    let _ = api.create_user(&owner, member).await.created();
    let _ = api.activate(&invitation("bo@acme.example"), "Cobalt-Walnut-5521-Meadow").await.ok();
    secrets.push(("member password".into(), "Cobalt-Walnut-5521-Meadow".into()));
    let bo = client();
    let _ = api.sign_in(&bo, "acme", "bo@acme.example", "Cobalt-Walnut-5521-Meadow").await.ok();
    assert_eq!(api.send_code(&bo, "email").await.status, 204);
    let mail = crate::smtp::mails(&maildir).into_iter().find(|m| m.contains("sign-in code")).expect("code mailed");
    let sent: String = mail.split("sign-in code is ").nth(1).unwrap().chars().take(6).collect();
    // Six digits alone turn up in any file by chance: searched for as a JSON string, as it would be stored.
    secrets.push(("sent code".into(), format!("\"{sent}\"")));
    assert_eq!(api.second_factor(&bo, "code", &sent).await.status, 200);

    let master = std::fs::read_to_string(app.data_dir().join("master.key")).unwrap().trim().to_owned();
    let logs = app.logs();
    for (what, secret) in &secrets {
        let files = app.files_holding(secret.as_bytes());
        assert!(files.is_empty(), "the {what} is in {files:?}");
        assert!(!logs.contains(secret.as_str()), "the {what} is in the log");
    }
    let holding_master = app.files_holding(master.as_bytes());
    assert_eq!(holding_master, [app.data_dir().join("master.key")], "the master key is in its own file only");
    assert!(!logs.contains(&master), "the master key is not in the log");
}
