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

/// A folder target and the environment that ships to it (purges due at once).
fn target_env() -> (tempfile::TempDir, Vec<(&'static str, String)>) {
    let target = tempfile::tempdir().unwrap();
    let env = env_with(target.path());
    (target, env)
}

fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn json(o: &std::process::Output) -> Value {
    let text = || format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{}", text());
    serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("not JSON: {}", text()))
}

/// The chains `valv audit verify` finds in the data dir `data`.
fn chains(app: &TestApp, data: &Path) -> Vec<String> {
    entries(app, data).into_keys().collect()
}

/// Each chain `valv audit verify` finds in the data dir `data`, with its number of entries:
/// the live installation's (on PostgreSQL when the suite runs there), or a restored one's.
fn entries(app: &TestApp, data: &Path) -> std::collections::BTreeMap<String, u64> {
    let mut command = app.command();
    if data != app.data_dir() {
        command.env_remove("VALV_DATABASE_URL"); // a restore into a folder is embedded
    }
    let out = command.arg("--data-dir").arg(data).args(["audit", "verify", "--json"]).output().unwrap();
    let v = json(&out);
    assert_eq!(v["ok"], true, "{v}");
    let chains = v["chains"].as_array().unwrap().iter();
    chains.map(|c| (c["chain"].as_str().unwrap().to_owned(), c["entries"].as_u64().unwrap())).collect()
}

#[tokio::test]
async fn a_purged_tenant_leaves_nothing_in_later_backups_and_the_drill_still_agrees() {
    let (_target, env) = target_env();
    let env = pairs(&env);
    let app = crate::app_with(&[], &env);
    let (api, op) = (app.api(), app.operator().await);
    let (gone, kept) = (app.tenant(&op, "gone").await, app.tenant(&op, "kept").await);
    let _ = api.tenant_action(&op, &gone.id, "terminate").await.ok();
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
    let (_target, env) = target_env();
    let env = pairs(&env);
    let app = crate::app_with(&[], &env);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let root = app.crash();
    delete_key(root.path(), &t.id);

    let app = valv_testkit::spawn_at(std::path::Path::new(env!("CARGO_BIN_EXE_valv")), root, &[], &env);
    // Its rows are sealed with that key: nothing of the tenant can be read, and nothing written.
    let (_, status, _) = app.sign_in("acme", &t.owner_email, valv_testkit::PASSWORD).await;
    assert_eq!(status, 500, "the tenant's users cannot be read");

    let full = app.cli(&["backup", "now", "--json"]);
    let said = format!("{}{}", String::from_utf8_lossy(&full.stdout), String::from_utf8_lossy(&full.stderr));
    assert!(!full.status.success(), "a full backup refuses: {said}");
    assert!(said.contains(&t.id), "and names the tenant: {said}");
    let runs = json(&app.cli(&["backup", "list", "--json"]));
    assert!(runs.as_array().unwrap().iter().any(|r| r["kind"] == "full" && r["outcome"] == "failed"), "{runs}");
}

/// Review S1: a merge of shipped segments that cannot read a tenant's key
/// (not purged: the key should be there) keeps its inputs. Dropping that
/// tenant's entries from the merged segment would lose them from the target
/// for good. Nor does that process overwrite the target's keyring copy,
/// which still holds the key: a restore from the target holds every entry.
#[tokio::test]
async fn a_merge_that_cannot_read_a_key_keeps_its_inputs() {
    let (target, env) = target_env();
    let env = pairs(&env);
    let app = crate::app_with(&[], &env);
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let col = serde_json::json!({ "name": "n", "fields": [{ "name": "x", "type": "number" }] });
    assert_eq!(api.create_collection(&t.owner, col).await.status, 201);
    for x in 0..8 {
        assert_eq!(api.create_record(&t.owner, "n", serde_json::json!({ "x": x })).await.status, 201);
        caught_up(&app).await; // each write on the target before the next: small segments, not yet merged
    }
    let live = entries(&app, &app.data_dir());
    let segments = || std::fs::read_dir(target.path().join("segments")).unwrap().count();
    let before = segments();
    assert!(before >= 4, "small segments to merge: {before}");
    let root = app.crash();
    delete_key(root.path(), &t.id);

    let app = valv_testkit::spawn_at(std::path::Path::new(env!("CARGO_BIN_EXE_valv")), root, &[], &env);
    tokio::time::sleep(Duration::from_secs(3)).await; // past the quiet second after which merges run
    assert!(segments() >= before, "no merge dropped the tenant's entries ({} of {before} left)", segments());
    // The target's keyring copy still holds the key this process lost: it was not overwritten.
    let to = tempfile::tempdir().unwrap();
    let data = to.path().join("data");
    let restore =
        ["restore", "--at", "2100-01-01T00:00:00Z", "--from", "one", "--to", data.to_str().unwrap(), "--json"];
    json(&app.cli(&restore));
    let restored = entries(&app, &data);
    let chain = live.keys().find(|c| c.contains(&t.id)).unwrap();
    assert!(restored.get(chain) >= live.get(chain), "every entry is back: {live:?} {restored:?}");
}

/// Waits until the target holds the whole journal.
async fn caught_up(app: &TestApp) {
    for _ in 0..200 {
        let s = json(&app.cli(&["backup", "status", "--json"]));
        if s["targets"][0]["shipped_seq"] == s["journal_seq"] {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the target did not catch up");
}

/// Review S3: whoever can write a target can put back an older `keyring`
/// (with a purged tenant's key in it) or an older `ledger` (without a later
/// erasure). A restore then destroys every key the journal says was purged,
/// and refuses a ledger that lacks an erasure the journal records.
#[tokio::test]
async fn a_keyring_or_ledger_rolled_back_on_a_target_brings_nothing_back() {
    let (target, env) = target_env();
    let env = pairs(&env);
    let app = crate::app_with(&[], &env);
    let (api, op) = (app.api(), app.operator().await);
    let (acme, gone) = (app.tenant(&op, "acme").await, app.tenant(&op, "gone").await);
    let people = serde_json::json!({ "name": "people", "data_subject": true, "fields": [
        { "name": "name", "type": "text", "personal": "identity" }, { "name": "email", "type": "email", "personal": "contact" }]});
    let _ = api.create_collection(&acme.owner, people).await.created();
    let zed = serde_json::json!({ "name": "Zed Rollback-5150", "email": "zed@x.example" });
    let _ = api.create_record(&acme.owner, "people", zed).await.created();
    caught_up(&app).await;
    let old = |name: &str| std::fs::read(target.path().join(name)).unwrap();
    let (old_keyring, old_ledger) = (old("keyring"), old("ledger"));

    let _ = api.erase_subject(&acme.owner, serde_json::json!({ "email": "zed@x.example" })).await.ok();
    let _ = api.tenant_action(&op, &gone.id, "terminate").await.ok();
    assert!(app.cli(&["tenant", "purge-expired"]).status.success());
    caught_up(&app).await;
    let new_ledger = old("ledger");
    std::fs::write(target.path().join("keyring"), old_keyring).unwrap();
    std::fs::write(target.path().join("ledger"), old_ledger).unwrap();

    let restore = |to: &Path| {
        let args = ["restore", "--at", "2100-01-01T00:00:00Z", "--from", "one", "--to", to.to_str().unwrap(), "--json"];
        app.cli(&args)
    };
    let first = tempfile::tempdir().unwrap();
    let refused = restore(&first.path().join("data"));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("restore_ledger_behind"), "{err}");

    std::fs::write(target.path().join("ledger"), new_ledger).unwrap();
    let second = tempfile::tempdir().unwrap();
    let data = second.path().join("data");
    json(&restore(&data));
    let verify = app.command().arg("--data-dir").arg(&data).args(["keys", "verify"]).output().unwrap();
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success() && !said.is_empty(), "{said}");
    let keyring = rusqlite::Connection::open(data.join("keyring.db")).unwrap();
    let kept: u32 =
        keyring.query_row("SELECT count(*) FROM tenant_keys WHERE tenant = ?1", [&gone.id], |r| r.get(0)).unwrap();
    assert_eq!(kept, 0, "the purged tenant's key did not come back from the old keyring");
}
