//! The web pages in a real browser: `tests/browser/flows.py` (what the
//! flows share is in `common.py`) drives Debian's Chromium with Playwright,
//! once with JavaScript and once without, through: sign-in (a wrong
//! password, an authenticator code, a recovery code), the workspace, the
//! journal and its chain verified, the language switch, records made,
//! changed and brought back from their history, users invited and blocked,
//! files and their versions, the export, the operator's console, an
//! invitation (a weak password refused with its reasons, then a strong one,
//! then an authenticator app set up), and a data subject's request from the
//! public form to the owner's list. Every page is checked with axe-core and
//! photographed into `target/screenshots`. `scripts/test` installs Chromium
//! and the tools.

use serde_json::json;
use valv_testkit::{PASSWORD, totp_code};

use crate::{app, fuzz::tools};

#[tokio::test]
async fn people_sign_in_and_work_in_a_browser_with_and_without_javascript() {
    let app = app();
    let (api, (op, op_secret)) = (app.api(), app.operator_and_secret().await);
    let t = app.tenant(&op, "acme").await;
    let contacts = json!({ "name": "contacts", "data_subject": true, "fields": [
        { "name": "name", "type": "text", "required": true }, { "name": "email", "type": "email" },
        { "name": "status", "type": "enum", "values": ["lead", "customer"] }, { "name": "vip", "type": "bool" }]});
    let _ = api.create_collection(&t.owner, contacts).await.created();
    let member = "bo@acme.example";
    let (_, bo) = app.member(&t, member, "member").await;
    let secret = api.begin_totp(&bo).await.ok()["secret"].as_str().unwrap().to_owned();
    let confirmed = api.confirm_totp(&bo, &totp_code(&secret, 0)).await.ok();
    let recovery = confirmed["recovery_codes"][0].as_str().unwrap().to_owned();
    let blockable = "ed@acme.example";
    let ed = json!({ "name": "Ed Blockable", "email": blockable, "phone": "+46701234503", "role": "member" });
    let _ = api.create_user(&t.owner, ed).await.created();
    app.activate(blockable).await;
    let invited = ["cy@acme.example", "di@acme.example"];
    for (email, phone) in invited.iter().zip(["+46701234501", "+46701234502"]) {
        let person = json!({ "name": "Cy Invited", "email": email, "phone": phone, "role": "member" });
        let _ = api.create_user(&t.owner, person).await.created();
    }

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shots = root.join("../../target/screenshots");
    let out = tokio::process::Command::new(tools().join("python"))
        .arg(root.join("tests/browser/flows.py"))
        .env("VALV_URL", &app.url)
        .env("VALV_TENANT", "acme")
        .env("VALV_PASSWORD", PASSWORD)
        .env("VALV_OWNER_EMAIL", &t.owner_email)
        .env("VALV_MEMBER_EMAIL", member)
        .env("VALV_MEMBER_TOTP_SECRET", &secret)
        .env("VALV_MEMBER_RECOVERY_CODE", &recovery)
        .env("VALV_INVITED_EMAILS", invited.join(","))
        .env("VALV_BLOCKABLE_EMAIL", blockable)
        .env("VALV_OUTBOX", app.data_dir().join("outbox"))
        .env("VALV_OPERATOR_EMAIL", "ops@provider.example")
        .env("VALV_OPERATOR_TOTP_SECRET", &op_secret)
        .env("VALV_SCREENSHOTS", &shots)
        .output()
        .await
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser flows failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("JavaScript on") && stdout.contains("JavaScript off"), "{stdout}");
}
