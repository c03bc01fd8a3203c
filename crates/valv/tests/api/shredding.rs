//! Crypto-shredding reaches every backup (review H3): no tenant's part is
//! ever sealed with the installation-wide backup key. A purged tenant's
//! remnants are not written to a backup at all; a tenant whose key is
//! missing without a purge stops shipping and full backups, loudly.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use valv_testkit::TestApp;

fn env_with(target: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("VALV_EXPORT_WINDOW_DAYS", "0".to_owned()),
        ("VALV_BACKUP_TARGETS", format!("[\"one={}\"]", target.display())),
    ]
}

fn json(o: &std::process::Output) -> Value {
    let text = || format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{}", text());
    serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("not JSON: {}", text()))
}

/// The chains `valv audit verify` finds in the data dir `data`.
fn chains(app: &TestApp, data: &Path) -> Vec<String> {
    let out = app.command().arg("--data-dir").arg(data).args(["audit", "verify", "--json"]).output().unwrap();
    let v = json(&out);
    assert_eq!(v["ok"], true, "{v}");
    v["chains"].as_array().unwrap().iter().map(|c| c["chain"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_purged_tenant_leaves_nothing_in_later_backups_and_the_drill_still_agrees() {
    let target = tempfile::tempdir().unwrap();
    let env = env_with(target.path());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = crate::app_with(&[], &env);
    let op = app.operator().await;
    let (gone, kept) = (app.tenant(&op, "gone").await, app.tenant(&op, "kept").await);
    op.post(app.at(&format!("/api/v1/tenants/{}/terminate", gone.id))).send().await.unwrap();
    assert!(app.cli(&["tenant", "purge-expired", "--json"]).status.success());
    assert!(chains(&app, &app.data_dir()).contains(&gone.id), "the live journal keeps the blanked entries");

    json(&app.cli(&["backup", "now", "--json"]));
    let drills = json(&app.cli(&["backup", "verify", "--json"]));
    assert_eq!(drills[0]["ok"], true, "the restored snapshot matches what it holds: {drills}");
    let to = tempfile::tempdir().unwrap();
    let data = to.path().join("data");
    let restore =
        ["restore", "--at", "2100-01-01T00:00:00Z", "--from", "one", "--to", data.to_str().unwrap(), "--json"];
    json(&app.cli(&restore));
    let restored = chains(&app, &data);
    assert!(!restored.contains(&gone.id), "nothing of the purged tenant came back: {restored:?}");
    assert!(restored.contains(&kept.id), "the other tenant did: {restored:?}");
}

/// Deletes `tenant`'s wrapped key from the keyring of the stopped server in `root`.
fn delete_key(root: &Path, tenant: &str) {
    let sql = format!("DELETE FROM keyring_keys WHERE tenant = '{tenant}'");
    if let Ok(url) = std::fs::read_to_string(root.join("database-url")) {
        let _ = valv_testkit::psql(&url, &sql);
    } else {
        let c = rusqlite::Connection::open(root.join("data/keyring.db")).unwrap();
        assert_eq!(c.execute(&sql.replace("keyring_keys", "tenant_keys"), []).unwrap(), 1);
    }
}

#[tokio::test]
async fn a_tenant_whose_key_is_missing_stops_its_backups_loudly() {
    let target = tempfile::tempdir().unwrap();
    let env = env_with(target.path());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = crate::app_with(&[], &env);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let root = app.crash();
    delete_key(root.path(), &t.id);

    let app = valv_testkit::spawn_at(std::path::Path::new(env!("CARGO_BIN_EXE_valv")), root, &[], &env);
    let (owner, status, _) = app.sign_in("acme", &t.owner_email, valv_testkit::PASSWORD).await;
    assert_eq!(status, 200);
    let body = serde_json::json!({ "name": "notes", "fields": [{ "name": "text", "type": "text" }] });
    let made = owner.post(app.at("/api/v1/collections")).json(&body).send().await.unwrap();
    assert_eq!(made.status(), 201, "records need no key of their own");

    let mut status = Value::Null;
    for _ in 0..100 {
        status = json(&app.cli(&["backup", "status", "--json"]));
        if status["targets"][0]["last_error"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let error = status["targets"][0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains(&t.id) && error.contains("cannot be backed up"), "named in the status: {status}");
    assert!(status["targets"][0]["shipped_seq"].as_u64() < status["journal_seq"].as_u64(), "{status}");
    assert!(app.logs().contains("cannot be backed up"), "and in the log");

    let full = app.cli(&["backup", "now", "--json"]);
    assert!(!full.status.success(), "a full backup refuses too");
    let runs = json(&app.cli(&["backup", "list", "--json"]));
    assert!(runs.as_array().unwrap().iter().any(|r| r["kind"] == "full" && r["outcome"] == "failed"), "{runs}");
}
