//! Backups against the real server: shipping to several targets (local
//! folders and an S3-compatible server that is down, then back), a full
//! backup, a point-in-time restore into a new data dir that a new server
//! then serves, the erasure ledger re-applied after it, drills that catch a
//! damaged segment, and restores after `kill -9` during a write load.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use valv_testkit::{PASSWORD, TestApp, post_json as post, upload};

use crate::services::{Daemon, free_port, wait_for};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_valv"))
}

/// `VALV_BACKUP_TARGETS` for `name=location` pairs.
fn targets(list: &[(&str, String)]) -> String {
    let items: Vec<String> = list.iter().map(|(n, l)| format!("\"{n}={l}\"")).collect();
    format!("[{}]", items.join(", "))
}

/// A `valv` command on `data` with the backup configuration in `env`.
fn valv(data: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(bin()).arg("--data-dir").arg(data).args(args).envs(env.iter().copied()).output().unwrap()
}

fn ok(o: &Output) -> Value {
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

/// `/metrics` as (name with labels, value) pairs.
async fn metrics(app: &TestApp) -> Vec<(String, f64)> {
    let scraper = valv_testkit::bearer(valv_testkit::METRICS_TOKEN);
    let text = scraper.get(app.at("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(k, v)| Some((k.to_owned(), v.parse().ok()?))))
        .collect()
}

fn metric(m: &[(String, f64)], key: &str) -> f64 {
    m.iter().find(|(k, _)| k == key).map_or(-1.0, |(_, v)| *v)
}

/// Waits until every named target holds the whole journal.
async fn caught_up(app: &TestApp, names: &[&str]) {
    let mut last = Vec::new();
    for _ in 0..300 {
        last = metrics(app).await;
        let head = metric(&last, "valv_journal_seq");
        if names.iter().all(|n| metric(&last, &format!("valv_backup_shipped_seq{{target=\"{n}\"}}")) == head) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("targets {names:?} did not catch up: {last:?}\n{}", app.logs());
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Waits until the segments on a local target have not changed for two
/// seconds: the background merge runs after a quiet second.
async fn settled(target: &Path) -> Vec<std::path::PathBuf> {
    let listing = || {
        let mut s = files_under(&target.join("segments"));
        s.sort();
        s
    };
    let (mut last, mut same) = (listing(), 0);
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = listing();
        same = if now == last { same + 1 } else { 0 };
        last = now;
        if same >= 20 {
            return last;
        }
    }
    panic!("segments on {} kept changing: {last:?}", target.display());
}

/// `valv restore` of everything on target `one` into a new data dir; returns
/// the command's answer and the folder's root (its `data` is the data dir).
fn restore_all(app: &TestApp, env: &[(&str, &str)]) -> (Value, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let to = root.path().join("data");
    let args = ["restore", "--at", "2100-01-01T00:00:00Z", "--from", "one", "--to", to.to_str().unwrap(), "--json"];
    (ok(&valv(&app.data_dir(), env, &args)), root)
}

/// Serves a restored folder and checks that the records `ids` of collection
/// `n` are there for the owner of tenant `acme`.
async fn serves_records(root: tempfile::TempDir, owner_email: &str, ids: &[String]) {
    let restored = valv_testkit::spawn_at(bin(), root, &[], &[]);
    let (owner, status, _) = restored.sign_in("acme", owner_email, PASSWORD).await;
    assert_eq!(status, 200);
    for id in ids {
        let r = owner.get(restored.at(&format!("/api/v1/collections/n/records/{id}"))).send().await.unwrap();
        assert_eq!(r.status(), 200, "record {id} is in the restore");
    }
}

/// Writes spaced out so that each is shipped in a segment of its own are
/// merged into a few segments in the background, and a restore from them
/// holds every write.
#[tokio::test]
async fn small_segments_are_merged_in_the_background_and_restore_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let list = targets(&[("one", one.display().to_string())]);
    let env = [("VALV_BACKUP_TARGETS", list.as_str())];
    let app = crate::app_with(&[], &env);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    post(
        &t.owner,
        app.at("/api/v1/collections"),
        json!({ "name": "n", "fields": [{ "name": "x", "type": "number" }] }),
    )
    .await;
    let mut ids = Vec::new();
    for x in 0..40 {
        let r = post(&t.owner, app.at("/api/v1/collections/n/records"), json!({ "x": x })).await;
        ids.push(r["id"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    caught_up(&app, &["one"]).await;
    let left = settled(&one).await;
    assert!(left.len() <= 8, "40 and more shipping steps leave a few segments: {left:?}");

    let (r, root) = restore_all(&app, &env);
    assert!(r["report"]["replayed"].as_u64().unwrap() > 40, "{r}");
    serves_records(root, &t.owner_email, &ids).await;
}

#[tokio::test]
async fn every_target_receives_the_journal_and_a_target_that_was_down_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let port = free_port();
    let s3 = format!("s3://bucket1?endpoint=http://127.0.0.1:{port}&region=us-east-1");
    let list = targets(&[("one", one.display().to_string()), ("two", two.display().to_string()), ("three", s3)]);
    let env = [
        ("VALV_BACKUP_TARGETS", list.as_str()),
        ("AWS_ACCESS_KEY_ID", "valvkey"),
        ("AWS_SECRET_ACCESS_KEY", "valvsecret"),
    ];
    let app = crate::app_with(&[], &env);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let col = json!({ "name": "notes", "fields": [{ "name": "text", "type": "text" }] });
    post(&t.owner, app.at("/api/v1/collections"), col).await;
    post(&t.owner, app.at("/api/v1/collections/notes/records"), json!({ "text": "Zebulon-secret-note" })).await;
    let body = vec![42u8; 200_000];
    t.owner.post(app.at("/api/v1/files?name=a.bin")).body(body).send().await.unwrap();
    caught_up(&app, &["one", "two"]).await;

    // The unreachable target reports its failure once its client gives up (retries, then a 10 s timeout).
    let mut m = metrics(&app).await;
    for _ in 0..120 {
        if metric(&m, "valv_backup_target_failing{target=\"three\"}") == 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        m = metrics(&app).await;
    }
    assert_eq!(metric(&m, "valv_backup_target_failing{target=\"three\"}"), 1.0, "the S3 target is down: {m:?}");
    assert_eq!(metric(&m, "valv_backup_shipped_seq{target=\"three\"}"), 0.0);
    assert_eq!(metric(&m, "valv_backup_lag_seconds{target=\"one\"}"), 0.0);
    let written = files_under(&one);
    assert!(written.iter().any(|p| p.to_string_lossy().contains("/segments/")), "segments: {written:?}");
    assert!(written.iter().any(|p| p.to_string_lossy().contains(&format!("/chunks/{}/", t.id))), "chunks first");
    assert!(written.iter().any(|p| p.ends_with("keyring")), "the keyring copy");
    for p in &written {
        let bytes = std::fs::read(p).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("Zebulon") && !text.contains("owner@acme"), "{} holds plaintext", p.display());
    }

    // The S3 target comes up: it catches up without a restart.
    let bucket = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(bucket.path().join("bucket1")).unwrap();
    let child = Command::new(crate::fuzz::tools().join("rclone"))
        .args(["serve", "s3", "--addr", &format!("127.0.0.1:{port}"), "--auth-key", "valvkey,valvsecret"])
        .arg(bucket.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _s3 = Daemon(child, bucket);
    wait_for(port, "rclone serve s3").await;
    caught_up(&app, &["one", "two", "three"]).await;
    let status = ok(&app.cli(&["backup", "status", "--json"]));
    let three = status["targets"].as_array().unwrap().iter().find(|t| t["name"] == "three").unwrap().clone();
    assert_eq!(
        (three["last_error"].clone(), three["shipped_seq"].clone()),
        (Value::Null, status["journal_seq"].clone())
    );
}

#[tokio::test]
async fn a_restore_rebuilds_the_installation_as_it_was_at_an_instant_and_erases_again() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let list = targets(&[("one", one.display().to_string()), ("two", two.display().to_string())]);
    let env = [("VALV_BACKUP_TARGETS", list.as_str())];
    let app = crate::app_with(&[], &env);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let col = json!({ "name": "contacts", "data_subject": true, "fields": [
        { "name": "name", "type": "text", "personal": "identity" }, { "name": "email", "type": "email", "personal": "contact" }]});
    post(&t.owner, app.at("/api/v1/collections"), col).await;
    let rec = |id: &str| app.at(&format!("/api/v1/collections/contacts/records/{id}"));
    let ada = post(
        &t.owner,
        app.at("/api/v1/collections/contacts/records"),
        json!({ "name": "Ada", "email": "ada@x.example" }),
    )
    .await;
    let eve = post(
        &t.owner,
        app.at("/api/v1/collections/contacts/records"),
        json!({ "name": "Eve", "email": "eve@x.example" }),
    )
    .await;
    let f = upload(&t.owner, app.at("/api/v1/files?name=a.bin"), vec![1u8; 300_000]).await;
    let fid = f["id"].as_str().unwrap().to_owned();
    let full = ok(&app.cli(&["backup", "now", "--json"]));
    assert_eq!(full["targets_written"], json!(["one", "two"]), "{full}");

    // After the full backup, before the instant: shipped entries only.
    let ada_id = ada["id"].as_str().unwrap().to_owned();
    t.owner.patch(rec(&ada_id)).json(&json!({ "name": "Ada Lovelace" })).send().await.unwrap();
    let content = app.at(&format!("/api/v1/files/{fid}/content"));
    t.owner.put(&content).body(vec![2u8; 100_000]).send().await.unwrap();
    caught_up(&app, &["one", "two"]).await;
    let instant = app.journal(&t.owner).await[0]["at"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // After the instant: none of this is in the restore, except the erasure.
    t.owner.delete(rec(&ada_id)).send().await.unwrap();
    t.owner.put(&content).body(vec![3u8; 10]).send().await.unwrap();
    let r =
        t.owner.post(app.at("/api/v1/subjects/erase")).json(&json!({ "email": "eve@x.example" })).send().await.unwrap();
    assert_eq!(r.status(), 200);
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
    let (owner, status, _) = restored.sign_in("acme", &t.owner_email, PASSWORD).await;
    assert_eq!(status, 200, "accounts come back");
    let a: Value = owner
        .get(restored.at(&format!("/api/v1/collections/contacts/records/{ada_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a["data"]["name"], "Ada Lovelace", "the state at the instant: {a}");
    let versions: Value =
        owner.get(restored.at(&format!("/api/v1/files/{fid}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        versions["versions"].as_array().map(Vec::len),
        Some(2),
        "every file version up to the instant: {versions}"
    );
    let v1 = owner
        .get(restored.at(&format!("/api/v1/files/{fid}/versions/1/content")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let v2 =
        owner.get(restored.at(&format!("/api/v1/files/{fid}/content"))).send().await.unwrap().bytes().await.unwrap();
    assert_eq!((v1.to_vec(), v2.to_vec()), (vec![1u8; 300_000], vec![2u8; 100_000]));
    let eve_id = eve["id"].as_str().unwrap();
    let e = owner.get(restored.at(&format!("/api/v1/collections/contacts/records/{eve_id}"))).send().await.unwrap();
    let text = e.text().await.unwrap();
    assert!(!text.contains("eve@x.example") && !text.contains("Eve"), "the erased subject does not come back: {text}");
}

#[tokio::test]
async fn a_drill_checks_each_target_and_a_damaged_segment_is_read_from_another() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let list = targets(&[("one", one.display().to_string()), ("two", two.display().to_string())]);
    let env = [("VALV_BACKUP_TARGETS", list.as_str())];
    let app = crate::app_with(&[], &env);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    t.owner.post(app.at("/api/v1/files?name=a.bin")).body(vec![5u8; 100_000]).send().await.unwrap();
    ok(&app.cli(&["backup", "now", "--json"]));
    post(&t.owner, app.at("/api/v1/collections"), json!({ "name": "n", "fields": [{ "name": "x", "type": "text" }] }))
        .await;
    caught_up(&app, &["one", "two"]).await;
    let drills = ok(&app.cli(&["backup", "verify", "--all-chunks", "--json"]));
    for d in drills.as_array().unwrap() {
        assert_eq!(d["ok"], true, "{d}");
        assert_eq!(d["expected_digest"], d["restored_digest"]);
        assert!(d["chunks_checked"].as_u64().unwrap() >= 1 && d["chains_verified"].as_u64().unwrap() >= 2, "{d}");
    }

    // Damage the newest segment on target one, once merging has settled.
    settled(&one).await;
    let mut segments: Vec<_> = files_under(&one.join("segments"));
    segments.sort();
    let last = segments.last().unwrap().clone();
    let mut bytes = std::fs::read(&last).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&last, bytes).unwrap();
    let o = app.cli(&["backup", "verify", "--json"]);
    assert!(!o.status.success(), "the drill fails");
    let drills: Value = serde_json::from_slice(&o.stdout).unwrap();
    let by = |n: &str| drills.as_array().unwrap().iter().find(|d| d["target"] == n).unwrap().clone();
    assert_eq!((by("one")["ok"].clone(), by("two")["ok"].clone()), (json!(false), json!(true)), "{drills}");
    let list = ok(&app.cli(&["backup", "list", "--json"]));
    assert!(
        list.as_array().unwrap().iter().any(|r| r["kind"] == "verify" && r["outcome"] == "failed"),
        "results are kept"
    );

    let (r, _root) = restore_all(&app, &env);
    assert_eq!(
        r["report"]["seq"],
        metrics(&app).await.iter().find(|(k, _)| k == "valv_journal_seq").map(|(_, v)| json!(*v as u64)).unwrap(),
        "{r}"
    );
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
    post(
        &t.owner,
        app.at("/api/v1/collections"),
        json!({ "name": "n", "fields": [{ "name": "x", "type": "number" }] }),
    )
    .await;
    let token = app.token(&t.owner).await;
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..4u64 {
        let (url, token) = (app.at("/api/v1/collections/n/records"), token.clone());
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

#[tokio::test]
async fn one_tenant_is_restored_in_place_with_every_change_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let list = targets(&[("one", dir.path().join("one").display().to_string())]);
    let env = [("VALV_BACKUP_TARGETS", list.as_str())];
    let app = crate::app_with(&[], &env);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let other = app.tenant(&op, "other").await;
    let col = json!({ "name": "notes", "fields": [{ "name": "text", "type": "text" }] });
    post(&t.owner, app.at("/api/v1/collections"), col.clone()).await;
    post(&other.owner, app.at("/api/v1/collections"), col).await;
    let r1 = post(&t.owner, app.at("/api/v1/collections/notes/records"), json!({ "text": "as it was" })).await;
    let r1 = app.at(&format!("/api/v1/collections/notes/records/{}", r1["id"].as_str().unwrap()));
    let f = upload(&t.owner, app.at("/api/v1/files?name=a.bin"), vec![1u8; 50_000]).await;
    let content = app.at(&format!("/api/v1/files/{}/content", f["id"].as_str().unwrap()));
    caught_up(&app, &["one"]).await;
    let instant = app.journal(&t.owner).await[0]["at"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    t.owner.patch(&r1).json(&json!({ "text": "overwritten by mistake" })).send().await.unwrap();
    let r2 = post(&t.owner, app.at("/api/v1/collections/notes/records"), json!({ "text": "made later" })).await;
    t.owner.put(&content).body(vec![2u8; 10]).send().await.unwrap();
    let kept = post(&other.owner, app.at("/api/v1/collections/notes/records"), json!({ "text": "other tenant" })).await;
    caught_up(&app, &["one"]).await;

    copy_beside(&app, &instant, (&t, &other), (&r1, &content)).await;

    let refused = app.cli(&["restore", "--at", &instant, "--from", "one", "--tenant", &t.id]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--yes"), "asks first");
    let args = ["restore", "--at", &instant, "--from", "one", "--tenant", &t.id, "--yes", "--json"];
    let report = ok(&app.cli(&args));
    assert_eq!(
        (report["records_restored"].as_u64(), report["records_deleted"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(report["files_restored"], 1);

    let r: Value = t.owner.get(&r1).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (r["data"]["text"].as_str(), r["revision"].as_u64()),
        (Some("as it was"), Some(3)),
        "a new revision: {r}"
    );
    let later = app.at(&format!("/api/v1/collections/notes/records/{}", r2["id"].as_str().unwrap()));
    assert_eq!(t.owner.get(&later).send().await.unwrap().status(), 404, "made after the instant: deleted");
    let bytes = t.owner.get(&content).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.to_vec(), vec![1u8; 50_000], "the content it had then, as a new version");
    let kept = app.at(&format!("/api/v1/collections/notes/records/{}", kept["id"].as_str().unwrap()));
    assert_eq!(other.owner.get(&kept).send().await.unwrap().status(), 200, "other tenants are untouched");
    let journal = app.journal(&t.owner).await;
    assert!(journal.iter().any(|e| e["action"] == "tenant.restored"), "the replacement is journaled");
    assert!(journal.iter().any(|e| e["action"] == "record.restored"));
}

/// `restore --tenant --to`: the tenant alone, as it was at `instant`, in a new
/// data dir that a server of its own then serves; the live installation is
/// not touched. `urls` are the live record's and file content's addresses.
async fn copy_beside(
    app: &TestApp,
    instant: &str,
    (t, other): (&valv_testkit::Tenant, &valv_testkit::Tenant),
    urls: (&str, &str),
) {
    let root = tempfile::tempdir().unwrap();
    let to = root.path().join("data");
    let unknown =
        ["restore", "--at", instant, "--from", "one", "--tenant", UNKNOWN_TENANT, "--to", to.to_str().unwrap()];
    let o = app.cli(&unknown);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("did not exist"), "{o:?}");
    assert!(!to.exists(), "a refused copy leaves nothing behind");

    let args = ["restore", "--at", instant, "--from", "one", "--tenant", &t.id, "--to", to.to_str().unwrap(), "--json"];
    let copy = ok(&app.cli(&args));
    assert_eq!(copy["tenants_left_out"], 1, "{copy}");
    let o = valv(&to, &[], &["audit", "verify", "--json"]);
    assert!(o.status.success(), "the copy's journal verifies: {}", String::from_utf8_lossy(&o.stdout));

    let served = valv_testkit::spawn_at(bin(), root, &[], &[]);
    let there = |url: &str| url.replace(&app.at(""), &served.at(""));
    let (owner, status, _) = served.sign_in("acme", &t.owner_email, PASSWORD).await;
    assert_eq!(status, 200, "the tenant's accounts are in the copy");
    let r: Value = owner.get(there(urls.0)).send().await.unwrap().json().await.unwrap();
    assert_eq!((r["data"]["text"].as_str(), r["revision"].as_u64()), (Some("as it was"), Some(1)), "{r}");
    let bytes = owner.get(there(urls.1)).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.to_vec(), vec![1u8; 50_000], "the file as it was");
    let (_, status, _) = served.sign_in("other", &other.owner_email, PASSWORD).await;
    assert_ne!(status, 200, "other tenants are left out of the copy");

    let live: Value = t.owner.get(urls.0).send().await.unwrap().json().await.unwrap();
    assert_eq!(live["data"]["text"], "overwritten by mistake", "the live tenant is not touched");
}

#[tokio::test]
async fn one_tenant_is_copied_beside_itself_with_fresh_ids() {
    let dir = tempfile::tempdir().unwrap();
    let list = targets(&[("one", dir.path().join("one").display().to_string())]);
    let env = [("VALV_BACKUP_TARGETS", list.as_str())];
    let app = crate::app_with(&[], &env);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    post(
        &t.owner,
        app.at("/api/v1/collections"),
        json!({ "name": "customers", "fields": [{ "name": "name", "type": "text" }] }),
    )
    .await;
    let orders = json!({ "name": "orders", "fields": [
        { "name": "customer", "type": "reference", "collection": "customers" }, { "name": "contract", "type": "file" }] });
    post(&t.owner, app.at("/api/v1/collections"), orders).await;
    let file = upload(&t.owner, app.at("/api/v1/files?name=c.bin"), vec![7u8; 40_000]).await;
    let customer = post(&t.owner, app.at("/api/v1/collections/customers/records"), json!({ "name": "Ada" })).await;
    let order = json!({ "customer": customer["id"], "contract": file["id"] });
    let order = post(&t.owner, app.at("/api/v1/collections/orders/records"), order).await;
    caught_up(&app, &["one"]).await;
    let instant = app.journal(&t.owner).await[0]["at"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let live_customer = app.at(&format!("/api/v1/collections/customers/records/{}", customer["id"].as_str().unwrap()));
    t.owner.patch(&live_customer).json(&json!({ "name": "changed later" })).send().await.unwrap();
    caught_up(&app, &["one"]).await;

    let restore = |slug: &str| {
        let args = ["restore", "--at", &instant, "--from", "one", "--tenant", &t.id, "--as", slug, "--json"];
        app.cli(&args)
    };
    let taken = restore("acme");
    assert!(!taken.status.success() && String::from_utf8_lossy(&taken.stderr).contains("slug"), "{taken:?}");
    let report = ok(&restore("acme-then"));
    assert_eq!((report["records"].as_u64(), report["file_versions"].as_u64()), (Some(2), Some(1)), "{report}");
    let copy_id = report["tenant_id"].as_str().unwrap();
    assert_ne!(copy_id, t.id);
    assert!(
        !app.data_dir().read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("restore-scratch"))
    );

    // The copy's accounts are there but not invited; the operator invites whom it is for.
    let users = ok(&app.cli(&["user", "list", "--tenant", copy_id, "--json"]));
    let owner = users.as_array().unwrap().iter().find(|u| u["email"] == t.owner_email.as_str()).unwrap();
    assert_ne!(owner["id"], t.owner_id.as_str(), "fresh ids");
    ok(&app.cli(&["user", "invite", "--tenant", copy_id, owner["id"].as_str().unwrap(), "--json"]));
    app.activate(&t.owner_email).await;
    let (copy, status, _) = app.sign_in("acme-then", &t.owner_email, PASSWORD).await;
    assert_eq!(status, 200);

    let list = |c: &'static str| {
        let (client, url) = (copy.clone(), app.at(&format!("/api/v1/collections/{c}/records")));
        async move { client.get(url).send().await.unwrap().json::<Value>().await.unwrap()["records"][0].clone() }
    };
    let (was_customer, was_order) = (list("customers").await, list("orders").await);
    assert_eq!(was_customer["data"]["name"], "Ada", "as it was at the instant");
    assert_ne!(was_customer["id"], customer["id"]);
    assert_ne!(was_order["id"], order["id"]);
    assert_eq!(was_order["data"]["customer"], was_customer["id"], "references point inside the copy");
    let contract = app.at(&format!("/api/v1/files/{}/content", was_order["data"]["contract"].as_str().unwrap()));
    assert_eq!(copy.get(&contract).send().await.unwrap().bytes().await.unwrap().to_vec(), vec![7u8; 40_000]);

    let live: Value = t.owner.get(&live_customer).send().await.unwrap().json().await.unwrap();
    assert_eq!(live["data"]["name"], "changed later", "the original is not touched");
    let stranger =
        t.owner.get(app.at(&format!("/api/v1/files/{}/content", was_order["data"]["contract"].as_str().unwrap())));
    assert_eq!(stranger.send().await.unwrap().status(), 404, "the copy is a tenant of its own");
    let o = app.cli(&["audit", "verify", "--json"]);
    assert!(o.status.success(), "every chain verifies: {}", String::from_utf8_lossy(&o.stdout));
}

/// A tenant id no installation in these tests holds.
const UNKNOWN_TENANT: &str = "0190c2a4-5f6e-7a8b-9c0d-1e2f3a4b5c6d";

/// A tmpfs of `size` mounted on a new folder; unmounted on drop. The suite runs
/// as root (scripts/test installs packages), which mounting needs.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn new(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "mounting a small tmpfs (a full disk) needs root: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Self(dir)
    }

    fn grow(&self, size: &str) {
        let o =
            Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(self.0.path()).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).output();
    }
}

#[tokio::test]
async fn a_target_whose_disk_is_full_fails_alone_and_catches_up_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let small = Tmpfs::new("64k");
    let list = targets(&[
        ("one", dir.path().join("one").display().to_string()),
        ("full", small.0.path().join("t").display().to_string()),
    ]);
    let env = [("VALV_BACKUP_TARGETS", list.as_str())];
    let app = crate::app_with(&[], &env);
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    // Far more than the 64 KiB target holds, even compressed, and even after merging frees segments there.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let body: Vec<u8> = (0..1_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    let r = t.owner.post(app.at("/api/v1/files?name=big.bin")).body(body).send().await.unwrap();
    assert_eq!(r.status(), 201, "the service goes on");
    caught_up(&app, &["one"]).await;
    let mut status = Value::Null;
    for _ in 0..100 {
        status = ok(&app.cli(&["backup", "status", "--json"]));
        if status["targets"][1]["last_error"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let full = &status["targets"][1];
    assert_eq!(full["name"], "full");
    assert!(full["last_error"].as_str().unwrap().contains("No space left"), "the error names the cause: {full}");
    assert!(full["shipped_seq"].as_u64() < status["journal_seq"].as_u64(), "{status}");
    small.grow("16m");
    caught_up(&app, &["one", "full"]).await;
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
