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

/// Every file under `dir`, `outbox/` aside.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "outbox") {
                files(&p, out);
            }
        } else {
            out.push(p);
        }
    }
}

/// Where each marker was found, `marker: places`, for those found anywhere:
/// every file is read once and searched for every marker.
fn found(app: &TestApp, target: &Path, markers: &[&str]) -> Vec<String> {
    let mut all = Vec::new();
    files(&app.data_dir(), &mut all);
    files(target, &mut all);
    if let Some(cluster) = valv_testkit::postgres_dir().filter(|_| app.database_url().is_some()) {
        files(&cluster, &mut all);
    }
    let mut places: Vec<Vec<String>> = vec![Vec::new(); markers.len()];
    let mut search = |name: String, bytes: &[u8]| {
        for (m, at) in markers.iter().zip(&mut places) {
            if memchr::memmem::find(bytes, m.as_bytes()).is_some() {
                at.push(name.clone());
            }
        }
    };
    for f in all {
        if let Ok(bytes) = std::fs::read(&f) {
            search(f.display().to_string(), &bytes);
        }
    }
    search("the server's log".into(), app.logs().as_bytes());
    if let Some(url) = app.database_url() {
        search("pg_dump".into(), &valv_testkit::pg_dump(&url));
    }
    markers.iter().zip(places).filter(|(_, p)| !p.is_empty()).map(|(m, p)| format!("{m}: {}", p.join(", "))).collect()
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

/// The wrapped data key of `tenant` as the keyring stores it, hex.
fn wrapped_key(app: &TestApp, tenant: &str) -> Option<String> {
    match app.database_url() {
        Some(url) => {
            let sql = format!("SELECT encode(wrapped, 'hex') FROM keyring_keys WHERE tenant = '{tenant}'");
            Some(valv_testkit::psql(&url, &sql)).filter(|h| !h.is_empty())
        }
        None => {
            let c = rusqlite::Connection::open(app.data_dir().join("keyring.db")).unwrap();
            let sql = "SELECT hex(wrapped) FROM tenant_keys WHERE tenant = ?1";
            rusqlite::OptionalExtension::optional(c.query_row(sql, [tenant], |r| r.get::<_, String>(0))).unwrap()
        }
    }
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect()
}

/// A purged tenant cannot be read back even by whoever holds the master key:
/// its rows were sealed with its data key, and no file keeps that key's
/// wrapped bytes (secure_delete and the truncated WAL on the embedded
/// store; on PostgreSQL the row is gone from the table and from `pg_dump`,
/// while the cluster's WAL keeps it until recycled, as docs/security.md says).
#[tokio::test]
async fn a_purged_tenants_key_is_gone_from_every_file() {
    let target = tempfile::tempdir().unwrap();
    let targets = format!("[\"one={}\"]", target.path().display());
    let app = crate::app_with(&[], &[("VALV_BACKUP_TARGETS", &targets), ("VALV_EXPORT_WINDOW_DAYS", "0")]);
    let (api, op) = (app.api(), app.operator().await);
    let gone = app.tenant(&op, "gone").await;
    let col = json!({ "name": "notes", "fields": [{ "name": "text", "type": "text" }] });
    let _ = api.create_collection(&gone.owner, col).await.created();
    let _ = api.create_record(&gone.owner, "notes", json!({ "text": "Cnry purged note" })).await.created();
    let wrapped = unhex(&wrapped_key(&app, &gone.id).expect("the tenant has a key"));

    let _ = api.tenant_action(&op, &gone.id, "terminate").await.ok();
    assert!(app.cli(&["tenant", "purge-expired", "--json"]).status.success());
    assert_eq!(wrapped_key(&app, &gone.id), None, "the key is destroyed");
    let mut all = Vec::new();
    match app.database_url() {
        None => files(&app.data_dir(), &mut all),
        Some(url) => assert!(memchr::memmem::find(&valv_testkit::pg_dump(&url), &wrapped).is_none(), "not in pg_dump"),
    }
    files(target.path(), &mut all);
    all.retain(|f| std::fs::read(f).is_ok_and(|b| memchr::memmem::find(&b, &wrapped).is_some()));
    assert!(all.is_empty(), "the destroyed key's wrapped bytes are still in {all:?}");
    assert!(found(&app, target.path(), &["Cnry purged note"]).is_empty(), "nor was the note ever in clear");
}

/// An installation made by the release before sealing: `valv serve` of
/// commit b0152b1 (a tenant `before` whose owner is `owner@before.example`
/// with the test password, two contacts with a revision each, a file and an
/// access request), stopped, its databases checkpointed. Every value of it
/// is in clear in `valv.db`.
const BEFORE_SEALING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/before-sealing/data");

/// Upgrade in place: the first `valv serve` of this release seals an earlier
/// release's rows before it listens; everything reads as before, lookups by
/// blind index find what they should, the journal verifies, and no value is
/// left readable in any file.
#[tokio::test]
async fn an_installation_made_before_sealing_is_sealed_at_its_first_start() {
    let root = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp").arg("-a").arg(BEFORE_SEALING).arg(root.path().join("data")).status();
    assert!(status.unwrap().success());
    let key = root.path().join("data/master.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let app = valv_testkit::spawn_at(std::path::Path::new(env!("CARGO_BIN_EXE_valv")), root, &[], &[]);
    assert!(app.logs().contains("sealed the rows stored in clear"), "{}", app.logs());
    let api = app.api();
    let (owner, status, _) = app.sign_in("before", "owner@before.example", valv_testkit::PASSWORD).await;
    assert_eq!(status, 200, "the owner signs in: found by the blind index of the address");

    let all = api.records(&owner, "contacts", "sort=n").await.ok();
    let notes: Vec<&str> =
        all["records"].as_array().unwrap().iter().map(|r| r["data"]["note"].as_str().unwrap()).collect();
    assert_eq!(notes, ["Oldnote 0 again", "Oldnote 1 again"], "{all}");
    let one = api.records(&owner, "contacts", "email=old1@before.example").await.ok();
    assert_eq!(one["records"][0]["data"]["name"], "Vera Before", "a personal field by its blind index: {one}");
    let id = one["records"][0]["id"].as_str().unwrap();
    assert_eq!(api.revisions(&owner, "contacts", id).await.ok().as_array().unwrap().len(), 2);
    let files = api.files(&owner, Some("/oldfolder")).await.ok();
    assert_eq!(files[0]["name"], "oldfile.txt", "a folder by its blind index: {files}");
    assert_eq!(api.requests(&owner, None).await.ok().as_array().unwrap().len(), 1);
    let verify = app.cli(&["audit", "verify", "--json"]);
    assert!(verify.status.success(), "the journal verifies: {}", String::from_utf8_lossy(&verify.stdout));

    let nowhere = tempfile::tempdir().unwrap();
    let markers =
        ["Oldnote", "Olda Earlier", "Vera Before", "old0@before.example", "oldfolder", "oldfile.txt", "Oldmessage"];
    let seen = found(&app, nowhere.path(), &markers);
    assert!(seen.is_empty(), "values of the earlier release still readable:\n{}", seen.join("\n"));
}

/// A backup target written by the release before sealing (commit b0152b1:
/// a full backup holding one contact and a file, then a shipped segment
/// with a second contact), and that installation's master key.
const BACKUP_BEFORE_SEALING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/backup-before-sealing");

/// A backup taken before the upgrade restores with this release: the
/// restored rows are sealed as they are written, and read as they were.
#[tokio::test]
async fn a_backup_taken_before_sealing_restores_sealed() {
    let root = tempfile::tempdir().unwrap();
    let fixture = std::path::Path::new(BACKUP_BEFORE_SEALING);
    let (live, target) = (root.path().join("live"), root.path().join("target"));
    std::fs::create_dir_all(&live).unwrap();
    assert!(
        std::process::Command::new("cp").arg("-a").arg(fixture.join("target")).arg(&target).status().unwrap().success()
    );
    std::fs::copy(fixture.join("master.key"), live.join("master.key")).unwrap();
    std::fs::set_permissions(live.join("master.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let restored = tempfile::tempdir().unwrap();
    let targets = format!("[\"one={}\"]", target.display());
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_valv"))
        .arg("--data-dir")
        .arg(&live)
        .args(["restore", "--at", "2100-01-01T00:00:00Z", "--from", "one", "--to"])
        .arg(restored.path().join("data"))
        .env("VALV_BACKUP_TARGETS", &targets)
        .env_remove("VALV_DATABASE_URL")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let app = valv_testkit::spawn_at(std::path::Path::new(env!("CARGO_BIN_EXE_valv")), restored, &[], &[]);
    let (owner, status, _) = app.sign_in("before", "owner@before.example", valv_testkit::PASSWORD).await;
    assert_eq!(status, 200, "{}", app.logs());
    let all = app.api().records(&owner, "contacts", "").await.ok();
    let notes: Vec<&str> =
        all["records"].as_array().unwrap().iter().map(|r| r["data"]["note"].as_str().unwrap()).collect();
    assert_eq!(notes.len(), 2, "the full backup's contact and the shipped one: {all}");
    assert!(notes.contains(&"Oldnote shipped later"), "{all}");
    let nowhere = tempfile::tempdir().unwrap();
    let seen =
        found(&app, nowhere.path(), &["Oldnote", "Olda Earlier", "Vera Before", "old1@before.example", "oldfolder"]);
    assert!(seen.is_empty(), "restored values readable without the keys:\n{}", seen.join("\n"));
}
