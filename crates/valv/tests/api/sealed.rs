//! Sealed at rest (DESIGN.md, Sealed at rest; review H5, M7), shown with
//! canaries: a distinct marker in each value valv stores — a tenant and
//! its contact, users with a second factor, a collection, a record and its
//! revisions, a file's name, folder and content, a data-subject request with
//! its message and answer — and then every byte valv wrote is searched for
//! each marker: the data dir (database, WAL, keyring, chunks), the backup
//! target, the server's log and, on PostgreSQL, the cluster's files and a
//! `pg_dump`. None may be found.
//!
//! Not searched: `outbox/`, where messages wait when no SMTP server is
//! configured (docs/security.md says they are in clear there).

use std::path::{Path, PathBuf};

use serde_json::json;
use valv_testkit::TestApp;

/// Every file under `dir` whose bytes hold `needle`, `outbox/` aside.
fn holding(dir: &Path, needle: &[u8], out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "outbox") {
                holding(&p, needle, out);
            }
        } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
            out.push(p);
        }
    }
}

/// Where each marker was found, `marker: places`, for those found anywhere.
fn found(app: &TestApp, target: &Path, markers: &[&str]) -> Vec<String> {
    let dump = app.database_url().map(|url| valv_testkit::pg_dump(&url)).unwrap_or_default();
    let mut out = Vec::new();
    for m in markers {
        let mut places = Vec::new();
        holding(&app.data_dir(), m.as_bytes(), &mut places);
        holding(target, m.as_bytes(), &mut places);
        if let Some(cluster) = valv_testkit::postgres_dir().filter(|_| app.database_url().is_some()) {
            holding(&cluster, m.as_bytes(), &mut places);
        }
        let mut names: Vec<String> = places.iter().map(|p| p.display().to_string()).collect();
        if app.logs().contains(m) {
            names.push("the server's log".into());
        }
        if dump.windows(m.len()).any(|w| w == m.as_bytes()) {
            names.push("pg_dump".into());
        }
        if !names.is_empty() {
            out.push(format!("{m}: {}", names.join(", ")));
        }
    }
    out
}

#[tokio::test]
async fn no_stored_value_is_readable_in_any_file_valv_writes() {
    let target = tempfile::tempdir().unwrap();
    let targets = format!("[\"one={}\"]", target.path().display());
    let app = crate::app_with(&[], &[("VALV_BACKUP_TARGETS", &targets)]);
    let (api, op) = (app.api(), app.operator().await);

    let tenant = json!({
        "name": "Cnry Tenantname", "slug": "canary", "contact_name": "Cnry Contactname",
        "contact_email": "cnry-contact@canary.example", "contact_phone": "+46701110001"
    });
    let _ = api.create_tenant(&op, tenant).await.created();
    app.activate("cnry-contact@canary.example").await;
    let (owner, status, _) = app.sign_in("canary", "cnry-contact@canary.example", valv_testkit::PASSWORD).await;
    assert_eq!(status, 200);
    let user = json!({ "name": "Cnry Username", "email": "cnry-user@canary.example", "phone": "+46701110002", "role": "member" });
    let _ = api.create_user(&owner, user).await.created();
    app.activate("cnry-user@canary.example").await;
    let (member, _, _) = app.sign_in("canary", "cnry-user@canary.example", valv_testkit::PASSWORD).await;
    let secret = api.begin_totp(&member).await.ok()["secret"].as_str().unwrap().to_owned();
    let _ = api.confirm_totp(&member, &valv_testkit::totp_code(&secret, 0)).await.ok();

    let collection = json!({ "name": "cnrycollection", "data_subject": true, "fields": [
        { "name": "name", "type": "text", "personal": "identity" },
        { "name": "email", "type": "email", "personal": "contact" },
        { "name": "notes", "type": "text" }]});
    let _ = api.create_collection(&owner, collection).await.created();
    let record =
        json!({ "name": "Cnry Subjectname", "email": "cnry-subject@canary.example", "notes": "Cnry notes one" });
    let made = api.create_record(&owner, "cnrycollection", record).await;
    let (etag, id) = (made.etag().to_owned(), made.created()["id"].as_str().unwrap().to_owned());
    let patch = json!({ "notes": "Cnry notes two" });
    let _ = api.update_record(&owner, "cnrycollection", &id, patch, Some(&etag)).await.ok();
    let _ = api.upload(&owner, "/cnryfolder", "cnryfile.txt", b"Cnry file content".to_vec()).await.created();

    let body = json!({ "kind": "access", "email": "cnry-subject@canary.example", "message": "Cnry request message" });
    let filed = api.file_request_with("canary", body).await.expect(202);
    let mail = app.outbox().into_iter().rev().find(|m| m["to"]["address"] == "cnry-subject@canary.example").unwrap();
    let code =
        mail["body"].as_str().unwrap().lines().rev().find(|l| l.split('.').count() == 3).unwrap().trim().to_owned();
    assert_eq!(api.verify_request(&code).await.status, 204);
    let _ = api.answer_request(&owner, filed["id"].as_str().unwrap()).await.ok();
    assert!(app.cli(&["backup", "now", "--json"]).status.success(), "a full backup beside the shipped segments");

    let markers = [
        "Cnry Tenantname",
        "Cnry Contactname",
        "cnry-contact@canary.example",
        "+46701110001",
        "Cnry Username",
        "cnry-user@canary.example",
        "+46701110002",
        "Olle Operator",
        "ops@provider.example",
        "cnrycollection",
        "Cnry Subjectname",
        "cnry-subject@canary.example",
        "Cnry notes one",
        "Cnry notes two",
        "cnryfolder",
        "cnryfile.txt",
        "Cnry file content",
        "Cnry request message",
        &secret,
    ];
    let seen = found(&app, target.path(), &markers);
    assert!(seen.is_empty(), "stored values readable without the keys:\n{}", seen.join("\n"));
    let listed = api.records(&owner, "cnrycollection", "email=cnry-subject@canary.example").await.ok();
    assert_eq!(listed["records"][0]["data"]["notes"], "Cnry notes two", "and every value is still there: {listed}");
}
