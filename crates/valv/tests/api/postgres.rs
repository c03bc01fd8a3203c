//! valv on PostgreSQL: a point-in-time restore into a new database that a
//! server then serves, and two servers sharing one database (one session
//! valid on both, one of them leading the background work, the other taking
//! over when it ends). The database is a real PostgreSQL the tests start.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use valv_testkit::{PASSWORD, TestApp};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_valv"))
}

/// A server on `database`, its master key and files shared through `shared`.
fn serve_on(database: &str, shared: &Path, env: &[(&str, &str)]) -> TestApp {
    let key = shared.join("master.key").display().to_string();
    let blobs = shared.join("blobs").display().to_string();
    let mut all = vec![("VALV_DATABASE_URL", database), ("VALV_MASTER_KEY_FILE", key.as_str())];
    all.push(("VALV_BLOBS", blobs.as_str()));
    all.extend_from_slice(env);
    valv_testkit::spawn_with(bin(), &[], &all)
}

async fn wait_until(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if ok().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Two servers on one new database, sharing the master key, the blob store
/// and one backup target (`one`), and tenant `acme`, made through the first.
struct Pair {
    database: String,
    shared: tempfile::TempDir,
    a: TestApp,
    b: TestApp,
    t: valv_testkit::Tenant,
}

async fn pair() -> Pair {
    let database = valv_testkit::postgres();
    let shared = tempfile::tempdir().unwrap();
    let targets = format!("[\"one={}\"]", shared.path().join("target").display());
    let env = [("VALV_BACKUP_TARGETS", targets.as_str())];
    let a = serve_on(&database, shared.path(), &env);
    let op = a.operator().await;
    let t = a.tenant(&op, "acme").await;
    let b = serve_on(&database, shared.path(), &env);
    Pair { database, shared, a, b, t }
}

#[tokio::test]
async fn two_servers_share_one_database_and_one_of_them_leads() {
    let Pair { a, b, t, shared: _shared, .. } = pair().await;
    assert!(b.setup_token.is_none(), "the second server sees the operator the first one made");

    // A session made on one server is valid on the other; what one writes, the other reads.
    let (on_a, on_b) = (a.api(), b.api());
    let col = json!({ "name": "notes", "fields": [{ "name": "text", "type": "text" }] });
    let _ = on_a.create_collection(&t.owner, col).await.created();
    let rec = on_b.create_record(&t.owner, "notes", json!({ "text": "via b" })).await.created();
    let got = on_a.record(&t.owner, "notes", rec["id"].as_str().unwrap()).await.ok();
    assert_eq!(got["data"]["text"], "via b");
    let file = on_b.upload(&t.owner, "/", "n.bin", vec![5u8; 30_000]).await.created();
    assert_eq!(on_a.download(&t.owner, file["id"].as_str().unwrap(), None, None).await.bytes, vec![5u8; 30_000]);

    // The journal is one: written by both servers in one order, it verifies.
    let o = a.cli(&["audit", "verify", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));

    const LEADS: &str = "leads the background work";
    let leaders = [&a, &b].iter().filter(|s| s.logs().contains(LEADS)).count();
    assert_eq!(leaders, 1, "exactly one server ships backups and purges");
    let (leader, follower) = if a.logs().contains(LEADS) { (a, b) } else { (b, a) };
    drop(leader);
    wait_until("the other server takes the lead", async || follower.logs().contains(LEADS)).await;
    // And ships: the target catches up with what was written.
    let _ = follower.api().create_record(&t.owner, "notes", json!({ "text": "later" })).await.created();
    wait_until("the new leader ships the journal", async || {
        let o = follower.cli(&["backup", "status", "--json"]);
        let s: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        s["targets"][0]["shipped_seq"] == s["journal_seq"] && s["journal_seq"].as_u64().unwrap_or(0) > 0
    })
    .await;
}

#[tokio::test]
async fn a_restore_into_a_new_database_is_served_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let list = format!("[\"one={}\"]", dir.path().join("one").display());
    let env = [("VALV_BACKUP_TARGETS", list.as_str())];
    let app = crate::app_with(&[], &env);
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let col = json!({ "name": "notes", "fields": [{ "name": "text", "type": "text" }] });
    let _ = api.create_collection(&t.owner, col).await.created();
    let rec = api.create_record(&t.owner, "notes", json!({ "text": "as it was" })).await.created();
    let rec = rec["id"].as_str().unwrap();
    let f = api.upload(&t.owner, "/", "a.bin", vec![9u8; 70_000]).await.created();
    let f = f["id"].as_str().unwrap();
    wait_until("the target holds the journal", async || {
        let s: Value = serde_json::from_slice(&app.cli(&["backup", "status", "--json"]).stdout).unwrap();
        s["targets"][0]["shipped_seq"] == s["journal_seq"]
    })
    .await;
    let instant = app.journal(&t.owner).await[0]["at"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let _ = api.update_record(&t.owner, "notes", rec, json!({ "text": "changed later" }), None).await.ok();

    let database = valv_testkit::postgres();
    let restore = || {
        let args = ["restore", "--at", &instant, "--from", "one", "--to", &database, "--json"];
        app.cli(&args)
    };
    let o = restore();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!out.contains("postgres://"), "the database URL is not repeated: {out}");
    let again = restore();
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && err.contains("not empty"), "a used database is refused: {err}");

    // Served from the database, with the file content in the blob store the restore filled.
    let shared = tempfile::tempdir().unwrap();
    std::fs::copy(app.data_dir().join("master.key"), shared.path().join("master.key")).unwrap();
    let blobs = app.data_dir().join("blobs").display().to_string();
    let served = serve_on(&database, shared.path(), &[("VALV_BLOBS", blobs.as_str())]);
    let (owner, status, _) = served.sign_in("acme", &t.owner_email, PASSWORD).await;
    assert_eq!(status, 200, "accounts come back");
    let r = served.api().record(&owner, "notes", rec).await.ok();
    assert_eq!((r["data"]["text"].as_str(), r["revision"].as_u64()), (Some("as it was"), Some(1)), "{r}");
    assert_eq!(served.api().download(&owner, f, None, None).await.bytes, vec![9u8; 70_000]);
    let o = served.cli(&["audit", "verify", "--json"]);
    assert!(o.status.success(), "the restored journal verifies: {}", String::from_utf8_lossy(&o.stdout));
}

/// The leader loses its hold on the lead as a network failure would (the
/// database ends the connection that holds the lock): for up to one check
/// interval it does not know and may still ship beside the new leader. It
/// then stops its background work, a leader takes over within seconds, and
/// every write made across the handover, through either server, reaches the
/// target: a restore from it ends at the live journal position, and its
/// journal verifies (no entry missing, none twice).
#[tokio::test]
async fn a_leader_cut_off_hands_over_and_every_write_reaches_the_backup() {
    let Pair { database, shared, a, b, t } = pair().await;
    let col = json!({ "name": "notes", "fields": [{ "name": "n", "type": "number" }] });
    let _ = a.api().create_collection(&t.owner, col).await.created();
    const LEADS: &str = "leads the background work";
    let leads = || a.logs().matches(LEADS).count() + b.logs().matches(LEADS).count();
    wait_until("a server leads", async || leads() == 1).await;
    let leader = if a.logs().contains(LEADS) { &a } else { &b };

    let (stop, writes) = (std::sync::atomic::AtomicBool::new(false), std::sync::atomic::AtomicU64::new(0));
    let load = async {
        for n in 0u64.. {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let server = if n % 2 == 0 { &a } else { &b };
            let _ = server.api().create_record(&t.owner, "notes", json!({ "n": n })).await.created();
            writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let made = || writes.load(std::sync::atomic::Ordering::Relaxed);
    // Writes are waited for by count, not by time: a busy machine makes fewer per second.
    let more_writes = async |than: u64| wait_until("more writes", async || made() >= than + 5).await;
    let handover = async {
        more_writes(0).await;
        // Advisory locks are per database; other tests' databases share this server. The
        // leadership lock is `valvlead` (0x7661_6c76 in classid, 0x6c65_6164 in objid); the
        // servers' shared keyring locks stay.
        let cut = "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
                   AND classid = x'76616c76'::int::oid AND objid = x'6c656164'::int::oid
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
        assert_eq!(valv_testkit::psql(&database, cut), "t", "the lock's connection is ended");
        more_writes(made()).await;
        wait_until("the old leader stops", async || leader.logs().contains("lost the lead")).await;
        wait_until("a leader again", async || leads() == 2).await;
        more_writes(made()).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    tokio::join!(load, handover);

    let status = || serde_json::from_slice::<Value>(&a.cli(&["backup", "status", "--json"]).stdout).unwrap();
    wait_until("the target holds the whole journal", async || {
        let s = status();
        s["targets"][0]["shipped_seq"] == s["journal_seq"]
    })
    .await;
    let seq = status()["journal_seq"].as_u64().unwrap();
    let restored = shared.path().join("restored");
    let to = restored.display().to_string();
    let o = a.cli(&["restore", "--at", "2100-01-01T00:00:00Z", "--from", "one", "--json", "--to", &to]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["report"]["seq"].as_u64(), Some(seq), "the restore ends where the live journal does");
    let key = shared.path().join("master.key");
    let verify = std::process::Command::new(bin())
        .arg("--data-dir")
        .arg(&restored)
        .args(["audit", "verify", "--json"])
        .env("VALV_MASTER_KEY_FILE", &key)
        .output()
        .unwrap();
    assert!(verify.status.success(), "the restored journal verifies: {}", String::from_utf8_lossy(&verify.stdout));
}

/// New users' finding: with two processes on one database the second
/// printed a new setup token and the first one's stopped working. Each
/// process's token works; the first used takes them all.
#[tokio::test]
async fn the_setup_token_of_either_process_works_once() {
    let database = valv_testkit::postgres();
    let shared = tempfile::tempdir().unwrap();
    let (a, b) = (serve_on(&database, shared.path(), &[]), serve_on(&database, shared.path(), &[]));
    let (ta, tb) = (a.setup_token.clone().unwrap(), b.setup_token.clone().unwrap());
    assert_ne!(ta, tb);
    let body = |t: &str| json!({ "setup_token": t, "name": "Olle Op", "email": "ops@x.example", "password": PASSWORD });
    let _ = a.api().setup(body(&ta)).await.created();
    b.api().setup(body(&tb)).await.error(401, "setup_token_invalid");
}
