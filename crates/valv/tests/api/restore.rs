//! Point-in-time restores of a whole installation into a new data dir that
//! a new server then serves: as it was at an instant, with the erasure
//! ledger re-applied after it; after `kill -9` during a write load; and a
//! restore that did not finish, which nothing serves.

use std::time::Duration;

use serde_json::{Value, json};
use valv_testkit::PASSWORD;

use crate::backup::{bin, caught_up, numbers, ok, restore_all, serves_records, targets, valv};

#[tokio::test]
async fn a_restore_rebuilds_the_installation_as_it_was_at_an_instant_and_erases_again() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let list = targets(&[("one", one.display().to_string()), ("two", two.display().to_string())]);
    let env = [("VALV_BACKUP_TARGETS", list.as_str())];
    let app = crate::app_with(&[], &env);
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let col = json!({ "name": "contacts", "data_subject": true, "fields": [
        { "name": "name", "type": "text", "personal": "identity" }, { "name": "email", "type": "email", "personal": "contact" }]});
    let _ = api.create_collection(&t.owner, col).await.created();
    let ada =
        api.create_record(&t.owner, "contacts", json!({ "name": "Ada", "email": "ada@x.example" })).await.created();
    let eve =
        api.create_record(&t.owner, "contacts", json!({ "name": "Eve", "email": "eve@x.example" })).await.created();
    let f = api.upload(&t.owner, "/", "a.bin", vec![1u8; 300_000]).await.created();
    let fid = f["id"].as_str().unwrap().to_owned();
    let full = ok(&app.cli(&["backup", "now", "--json"]));
    assert_eq!(full["targets_written"], json!(["one", "two"]), "{full}");

    // After the full backup, before the instant: shipped entries only.
    let ada_id = ada["id"].as_str().unwrap().to_owned();
    let _ = api.update_record(&t.owner, "contacts", &ada_id, json!({ "name": "Ada Lovelace" }), None).await.ok();
    let _ = api.upload_version(&t.owner, &fid, vec![2u8; 100_000]).await.ok();
    caught_up(&app, &["one", "two"]).await;
    let instant = app.journal(&t.owner).await[0]["at"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // After the instant: none of this is in the restore, except the erasure.
    assert_eq!(api.delete_record(&t.owner, "contacts", &ada_id, None).await.status, 204);
    let _ = api.upload_version(&t.owner, &fid, vec![3u8; 10]).await.ok();
    let _ = api.erase_subject(&t.owner, json!({ "email": "eve@x.example" })).await.ok();
    caught_up(&app, &["one", "two"]).await;

    let root = tempfile::tempdir().unwrap();
    let to = root.path().join("data");
    let o = valv(
        &app.data_dir(),
        &env,
        &["restore", "--at", &instant, "--from", "one", "--to", to.to_str().unwrap(), "--json"],
    );
    let report = ok(&o);
    assert_eq!(report["report"]["snapshot"], full["id"], "the newest snapshot before the instant is the base");
    assert!(report["report"]["replayed"].as_u64().unwrap() >= 2, "{report}");
    assert_eq!(report["erasures_reapplied"], 1);
    let o = valv(&to, &[], &["audit", "verify", "--json"]);
    assert!(o.status.success(), "the restored journal verifies: {}", String::from_utf8_lossy(&o.stdout));

    let restored = valv_testkit::spawn_at(bin(), root, &[], &[]);
    let there = restored.api();
    let (owner, status, _) = restored.sign_in("acme", &t.owner_email, PASSWORD).await;
    assert_eq!(status, 200, "accounts come back");
    let a = there.record(&owner, "contacts", &ada_id).await.ok();
    assert_eq!(a["data"]["name"], "Ada Lovelace", "the state at the instant: {a}");
    let versions = there.file(&owner, &fid).await.ok();
    let count = versions["versions"].as_array().map(Vec::len);
    assert_eq!(count, Some(2), "every file version up to the instant: {versions}");
    let v1 = there.download(&owner, &fid, Some(1), None).await.bytes;
    let v2 = there.download(&owner, &fid, None, None).await.bytes;
    assert_eq!((v1, v2), (vec![1u8; 300_000], vec![2u8; 100_000]));
    // Compared as text: the erased name and address appear nowhere in the answer.
    let text = there.record(&owner, "contacts", eve["id"].as_str().unwrap()).await.body.to_string();
    assert!(!text.contains("eve@x.example") && !text.contains("Eve"), "the erased subject does not come back: {text}");
}

#[tokio::test]
async fn after_kill_9_during_writes_a_restore_holds_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let list = targets(&[("one", one.display().to_string())]);
    let env = [("VALV_BACKUP_TARGETS", list.as_str())];
    let mut app = crate::app_with(&[], &env);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    numbers(&app.api(), &t.owner).await;
    let token = app.token(&t.owner).await;
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..4u64 {
        let (url, token) = (app.at("/api/v1/collections/n/records"), token.clone());
        // Raw: the server is killed under this writer; a refused connection ends its loop,
        // where the typed client would panic.
        let writer = tokio::spawn(async move {
            let c = valv_testkit::client();
            let mut ids = Vec::new();
            for i in 0..100_000u64 {
                match c.post(&url).bearer_auth(&token).json(&json!({ "x": round * 100_000 + i })).send().await {
                    Ok(r) if r.status() == 201 => {
                        ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned())
                    }
                    _ => break,
                }
            }
            ids
        });
        tokio::time::sleep(Duration::from_millis(400 + 150 * round)).await;
        let root = app.crash();
        acknowledged.extend(writer.await.unwrap());
        app = valv_testkit::spawn_at(bin(), root, &[], &env);
    }
    acknowledged.sort();
    acknowledged.dedup();
    assert!(acknowledged.len() > 20, "writes happened: {}", acknowledged.len());
    caught_up(&app, &["one"]).await;
    let (_, root) = restore_all(&app, &env);
    serves_records(root, &t.owner_email, &acknowledged).await;
}

/// A restore that stops before it is done leaves a folder no command serves
/// (its writes are synced only at the end, and the erasure ledger may not be
/// re-applied yet); the error says what to do.
#[tokio::test]
async fn a_restore_that_did_not_finish_is_never_served() {
    let app = crate::app_with(&[], &[]);
    let root = tempfile::tempdir().unwrap();
    let (empty, to) = (root.path().join("empty-target"), root.path().join("data"));
    std::fs::create_dir_all(&empty).unwrap();
    let o = valv(
        &app.data_dir(),
        &[],
        &["restore", "--at", "2100-01-01T00:00:00Z", "--from", empty.to_str().unwrap(), "--to", to.to_str().unwrap()],
    );
    assert!(!o.status.success(), "a target without a backup cannot be restored from");
    assert!(String::from_utf8_lossy(&o.stderr).contains("keyring"), "{}", String::from_utf8_lossy(&o.stderr));
    let o = valv(&to, &[], &["backup", "status", "--json"]);
    assert!(!o.status.success(), "the half-made folder is refused");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("did not finish") && err.contains("run the restore again"), "{err}");
}
