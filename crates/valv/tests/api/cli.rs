//! The command line: managing tenants and users, help with an example for
//! every command, settings named at start, and the self-signed certificate.

use serde_json::Value;

use crate::app;

fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn operators_manage_tenants_and_users_from_the_command_line() {
    let app = app();
    let created = json(&app.cli(&[
        "tenant",
        "create",
        "--name",
        "Acme AB",
        "--contact-name",
        "Ada Lind",
        "--contact-email",
        "ada@acme.example",
        "--contact-phone",
        "+46701234567",
        "--json",
    ]));
    let id = created["tenant"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["owner"]["role"], "owner");
    assert_eq!(json(&app.cli(&["tenant", "list", "--json"])).as_array().unwrap().len(), 1);
    assert_eq!(json(&app.cli(&["tenant", "show", &id, "--json"]))["slug"], "acme-ab");
    assert_eq!(json(&app.cli(&["tenant", "block", &id, "--json"]))["status"], "blocked");
    assert_eq!(json(&app.cli(&["tenant", "unblock", &id, "--json"]))["status"], "active");

    let u = json(&app.cli(&[
        "user",
        "create",
        "--tenant",
        &id,
        "--name",
        "Bo Ek",
        "--email",
        "bo@acme.example",
        "--phone",
        "+46701234568",
        "--json",
    ]));
    let uid = u["id"].as_str().unwrap().to_owned();
    assert_eq!(json(&app.cli(&["user", "list", "--tenant", &id, "--json"])).as_array().unwrap().len(), 2);
    assert_eq!(json(&app.cli(&["user", "block", "--tenant", &id, &uid, "--json"]))["status"], "blocked");
    assert_eq!(json(&app.cli(&["user", "unblock", "--tenant", &id, &uid, "--json"]))["status"], "active");

    let bad =
        app.cli(&["user", "create", "--tenant", &id, "--name", "X", "--email", "nope", "--phone", "+46701234568"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--email"), "the error names the flag");
    assert!(json(&app.cli(&["tenant", "terminate", &id, "--json"]))["terminated_at"].is_string());
    let text = app.cli(&["tenant", "list"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("acme-ab"), "human output");
    let verify = json(&app.cli(&["audit", "verify", "--json"]));
    assert_eq!(verify["ok"], true);
}

#[test]
fn every_command_has_help_with_an_example() {
    let bin = env!("CARGO_BIN_EXE_valv");
    let commands: &[&[&str]] = &[
        &[],
        &["serve"],
        &["tenant"],
        &["tenant", "create"],
        &["tenant", "list"],
        &["tenant", "show"],
        &["tenant", "block"],
        &["tenant", "unblock"],
        &["tenant", "terminate"],
        &["tenant", "limits"],
        &["tenant", "purge-expired"],
        &["user"],
        &["user", "create"],
        &["user", "list"],
        &["user", "block"],
        &["user", "unblock"],
        &["audit"],
        &["audit", "verify"],
        &["keys"],
        &["keys", "init"],
        &["keys", "rotate"],
        &["operator"],
        &["operator", "totp"],
        &["keys", "verify"],
        &["gc"],
        &["jobs"],
        &["export"],
        &["import"],
    ];
    for cmd in commands {
        let out = std::process::Command::new(bin).args(*cmd).arg("--help").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("Example"), "valv {} --help:\n{text}", cmd.join(" "));
    }
}

#[test]
fn a_bad_setting_is_named_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_valv"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("VALV_PASSWORD_KDF", "md5")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("password_kdf") && err.contains("VALV_PASSWORD_KDF"), "{err}");
}

/// Review I1: the self-signed certificate is valid for a year, not for
/// centuries, and a start within 30 days of its end makes a new one.
#[tokio::test]
async fn the_self_signed_certificate_lasts_a_year_and_is_renewed_before_its_end() {
    let app = crate::app();
    let tls = app.data_dir().join("tls");
    let ends = std::fs::read_to_string(tls.join("cert.expires")).unwrap();
    let ends = valv_domain::parse_stamp(ends.trim()).unwrap();
    let health = app.api().health().await;
    let date = health.headers["date"].to_str().unwrap();
    let served_at = time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc2822).unwrap();
    let days = (ends - served_at).whole_days();
    assert!((364..=366).contains(&days), "valid for a year: {days} days");
    let first = std::fs::read(tls.join("cert.pem")).unwrap();

    let root = app.crash();
    let soon = valv_domain::stamp(served_at + time::Duration::days(10));
    std::fs::write(root.path().join("data/tls/cert.expires"), soon).unwrap();
    let again = valv_testkit::spawn_at(std::path::Path::new(env!("CARGO_BIN_EXE_valv")), root, &[], &[]);
    let renewed = std::fs::read(again.data_dir().join("tls/cert.pem")).unwrap();
    assert_ne!(renewed, first, "ten days before its end it was made anew");
    assert_eq!(again.api().health().await.status, 200, "and is served");
}
