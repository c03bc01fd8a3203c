//! Backups against the real server: shipping the journal to several targets
//! (local folders, an S3-compatible server that is down and then back, a
//! disk that is full), merging small segments, full backups and drills that
//! catch a damaged segment. The helpers here serve the restore tests too.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use valv_testkit::{Api, PASSWORD, TestApp};

use crate::services::{Daemon, free_port, wait_for};

pub(crate) fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_valv"))
}

/// `VALV_BACKUP_TARGETS` for `name=location` pairs.
pub(crate) fn targets(list: &[(&str, String)]) -> String {
    let items: Vec<String> = list.iter().map(|(n, l)| format!("\"{n}={l}\"")).collect();
    format!("[{}]", items.join(", "))
}

/// A `valv` command on `data` with the backup configuration in `env`.
pub(crate) fn valv(data: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(bin()).arg("--data-dir").arg(data).args(args).envs(env.iter().copied()).output().unwrap()
}

pub(crate) fn ok(o: &Output) -> Value {
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

/// `/metrics` as (name with labels, value) pairs.
async fn metrics(app: &TestApp) -> Vec<(String, f64)> {
    // Raw: `/metrics` answers in the Prometheus text format, not JSON.
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
pub(crate) async fn caught_up(app: &TestApp, names: &[&str]) {
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
pub(crate) fn restore_all(app: &TestApp, env: &[(&str, &str)]) -> (Value, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let to = root.path().join("data");
    let args = ["restore", "--at", "2100-01-01T00:00:00Z", "--from", "one", "--to", to.to_str().unwrap(), "--json"];
    (ok(&valv(&app.data_dir(), env, &args)), root)
}

/// A collection `n` of records holding one number `x`.
pub(crate) async fn numbers(api: &Api<'_>, owner: &reqwest::Client) {
    let n = json!({ "name": "n", "fields": [{ "name": "x", "type": "number" }] });
    let _ = api.create_collection(owner, n).await.created();
}

/// Serves a restored folder and checks that the records `ids` of collection
/// `n` are there for the owner of tenant `acme`.
pub(crate) async fn serves_records(root: tempfile::TempDir, owner_email: &str, ids: &[String]) {
    let restored = valv_testkit::spawn_at(bin(), root, &[], &[]);
    let (owner, status, _) = restored.sign_in("acme", owner_email, PASSWORD).await;
    assert_eq!(status, 200);
    for id in ids {
        assert_eq!(restored.api().record(&owner, "n", id).await.status, 200, "record {id} is in the restore");
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
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    numbers(&api, &t.owner).await;
    let mut ids = Vec::new();
    for x in 0..40 {
        let r = api.create_record(&t.owner, "n", json!({ "x": x })).await.created();
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
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let col = json!({ "name": "notes", "fields": [{ "name": "text", "type": "text" }] });
    let _ = api.create_collection(&t.owner, col).await.created();
    let _ = api.create_record(&t.owner, "notes", json!({ "text": "Zebulon-secret-note" })).await.created();
    let _ = api.upload(&t.owner, "/", "a.bin", vec![42u8; 200_000]).await.created();
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
async fn a_drill_checks_each_target_and_a_damaged_segment_is_read_from_another() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let list = targets(&[("one", one.display().to_string()), ("two", two.display().to_string())]);
    let env = [("VALV_BACKUP_TARGETS", list.as_str())];
    let app = crate::app_with(&[], &env);
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let _ = api.upload(&t.owner, "/", "a.bin", vec![5u8; 100_000]).await.created();
    ok(&app.cli(&["backup", "now", "--json"]));
    let n = json!({ "name": "n", "fields": [{ "name": "x", "type": "text" }] });
    let _ = api.create_collection(&t.owner, n).await.created();
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
    let r = app.api().upload(&t.owner, "/", "big.bin", body).await;
    assert_eq!(r.status, 201, "the service goes on");
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
