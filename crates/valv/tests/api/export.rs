//! Export and import: a round trip through a fresh installation gives the
//! same content; damaged, truncated and unknown archives are refused whole.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use valv_testkit::Api;

use crate::app;

/// path -> bytes of every part of a tar archive.
pub(crate) fn parts(archive: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut a = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let mut out = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        out.insert(name, b);
    }
    out
}

/// An archive of `parts` with `export.json` replaced by `doc` and a manifest
/// that matches, as a careful forger (or a buggy exporter) would make it.
fn rebuilt(parts: &BTreeMap<String, Vec<u8>>, doc: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    let mut parts = parts.clone();
    parts.insert("export.json".into(), doc.to_vec());
    parts.remove("manifest.json");
    let hashes: BTreeMap<&String, String> =
        parts.iter().map(|(k, v)| (k, hex::encode(sha2::Sha256::digest(v)))).collect();
    let manifest = serde_json::to_vec(&json!({ "format": "valv-export", "version": 1, "parts": hashes })).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in parts.iter().chain([(&"manifest.json".to_owned(), &manifest)]) {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o600);
        h.set_cksum();
        b.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn valv(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_valv")).arg("--data-dir").arg(data).args(args).output().unwrap()
}

fn ok(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

/// `export.json` without what an import regenerates (documented in docs/export.md).
fn comparable(doc: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(doc).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("exported_at");
    o.remove("journal");
    let t = o.get_mut("tenant").unwrap().as_object_mut().unwrap();
    t.remove("status");
    t.remove("terminated_at");
    v
}

#[tokio::test]
async fn an_export_imported_elsewhere_exports_the_same_content() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    app.member(&t, "bo@acme.example", "member").await;
    let col = json!({ "name": "contacts", "data_subject": true, "fields": [
        { "name": "name", "type": "text", "personal": "identity" }, { "name": "age", "type": "number" }]});
    let _ = api.create_collection(&t.owner, col).await.created();
    let mut ids = Vec::new();
    for n in ["Ada", "Bea", "Cy"] {
        let r = api.create_record(&t.owner, "contacts", json!({ "name": n, "age": 30 })).await.created();
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    let _ = api.update_record(&t.owner, "contacts", &ids[0], json!({ "age": 31 }), None).await.ok();
    assert_eq!(api.delete_record(&t.owner, "contacts", &ids[1], None).await.status, 204);
    let f = api.upload(&t.owner, "/docs", "a.bin", vec![1u8; 300_000]).await.created();
    let _ = api.upload_version(&t.owner, f["id"].as_str().unwrap(), vec![2u8; 100]).await.ok();
    let gone = api.upload(&t.owner, "/", "gone.bin", vec![4u8; 10]).await.created();
    let gone = gone["id"].as_str().unwrap().to_owned();
    assert_eq!(api.delete_file(&t.owner, &gone).await.status, 204);

    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.tar"), dir.path().join("b.tar"));
    let early = app.cli(&["export", "--tenant", &t.id, "--out", a.to_str().unwrap()]);
    assert!(
        !early.status.success() && String::from_utf8_lossy(&early.stderr).contains("agreement ended"),
        "operators wait for the end"
    );
    let _ = api.tenant_action(&op, &t.id, "terminate").await.ok();
    let done = ok(&app.cli(&["export", "--tenant", &t.id, "--out", a.to_str().unwrap(), "--json"]));
    assert_eq!(done["progress"]["items_done"], done["progress"]["items_total"], "progress reaches the total");

    let second = dir.path().join("second");
    let imported = ok(&valv(&second, &["import", a.to_str().unwrap(), "--json"]));
    assert_eq!((imported["records"].as_u64(), imported["file_versions"].as_u64()), (Some(3), Some(3)));
    ok(&valv(&second, &["tenant", "terminate", &t.id, "--json"]));
    ok(&valv(&second, &["export", "--tenant", &t.id, "--out", b.to_str().unwrap(), "--json"]));

    let (pa, pb) = (parts(&a), parts(&b));
    assert_eq!(comparable(&pa["export.json"]), comparable(&pb["export.json"]), "same content after the round trip");
    assert_eq!(pa.keys().collect::<Vec<_>>(), pb.keys().collect::<Vec<_>>());
    assert_eq!(pa.get(&format!("files/{}/1", f["id"].as_str().unwrap())).unwrap(), &vec![1u8; 300_000]);
    let doc: Value = serde_json::from_slice(&pa["export.json"]).unwrap();
    assert_eq!(doc["records"][0]["revisions"].as_array().unwrap().len(), 2, "every revision travels");
    let files = doc["files"].as_array().unwrap();
    let deleted = files.iter().find(|f| f["id"] == gone.as_str()).expect("a deleted file is exported");
    assert!(deleted["deleted_at"].is_string() && pa.contains_key(&format!("files/{gone}/1")), "with its bytes");
    let doc_path = dir.path().join("export.json");
    std::fs::write(&doc_path, &pa["export.json"]).unwrap();
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/export.schema.json");
    let check = "import json, sys, jsonschema_rs; jsonschema_rs.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))";
    let valid = Command::new(crate::fuzz::tools().join("python"))
        .args(["-c", check])
        .arg(&schema)
        .arg(&doc_path)
        .output()
        .unwrap();
    assert!(
        valid.status.success(),
        "export.json follows docs/export.schema.json: {}",
        String::from_utf8_lossy(&valid.stderr)
    );
    let text = String::from_utf8_lossy(&pa["export.json"]);
    for secret in ["argon2", "password_hash", "totp", "secret_digest"] {
        assert!(!text.contains(secret), "no secrets in an export ({secret})");
    }
}

/// A terminated tenant holding one file of `len` bytes `byte`, exported by
/// the CLI: its id, a temporary folder and the archive in it.
async fn exported_tenant(byte: u8, len: usize) -> (String, tempfile::TempDir, std::path::PathBuf) {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let _ = api.upload(&t.owner, "/", "x.bin", vec![byte; len]).await.created();
    let _ = api.tenant_action(&op, &t.id, "terminate").await.ok();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("exported.tar");
    ok(&app.cli(&["export", "--tenant", &t.id, "--out", archive.to_str().unwrap()]));
    (t.id.clone(), dir, archive)
}

#[tokio::test]
async fn damaged_truncated_and_unknown_archives_are_refused_whole() {
    let (_, dir, good) = exported_tenant(7, 50_000).await;
    let bytes = std::fs::read(&good).unwrap();
    let target = dir.path().join("target");

    let mut tampered = bytes.clone();
    let at = tampered.windows(4).position(|w| w == [7, 7, 7, 7]).unwrap() + 100;
    tampered[at] ^= 1;
    let truncated = bytes[..bytes.len() / 2].to_vec();
    for (name, archive, code) in [("tampered", tampered, "import_damaged"), ("truncated", truncated, "import_damaged")]
    {
        let p = dir.path().join(format!("{name}.tar"));
        std::fs::write(&p, archive).unwrap();
        let o = valv(&target, &["import", p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(code), "{name}: {err}");
    }
    // Found wrong only late in the document, after the tenant and its users
    // went to the store: the transaction is rolled back.
    let good_parts = parts(&good);
    let doc = String::from_utf8(good_parts["export.json"].clone()).unwrap();
    let sha =
        serde_json::from_str::<Value>(&doc).unwrap()["files"][0]["versions"][0]["sha256"].as_str().unwrap().to_owned();
    let late = [
        ("wrong-sha", doc.replace(&sha, &"0".repeat(64)), "does not match its recorded SHA-256"),
        ("cut-json", doc[..doc.len() - 3].to_owned(), "export.json"),
        ("unknown-key", doc.replacen('{', r#"{"surprise":1,"#, 1), "surprise"),
    ];
    for (name, doc, why) in late {
        let p = dir.path().join(format!("{name}.tar"));
        std::fs::write(&p, rebuilt(&good_parts, doc.as_bytes())).unwrap();
        let o = valv(&target, &["import", p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("import_damaged") && err.contains(why), "{name}: {err}");
    }
    let mut b = tar::Builder::new(Vec::new());
    let manifest = br#"{"format":"valv-export","version":99,"parts":{}}"#;
    let mut h = tar::Header::new_ustar();
    h.set_size(manifest.len() as u64);
    h.set_cksum();
    b.append_data(&mut h, "manifest.json", &manifest[..]).unwrap();
    let future = dir.path().join("future.tar");
    std::fs::write(&future, b.into_inner().unwrap()).unwrap();
    let o = valv(&target, &["import", future.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("import_format_unknown"), "unknown versions are named");
    // Review S6: a manifest claiming a terabyte is refused before anything is read into memory.
    let mut huge = tar::Header::new_ustar();
    huge.set_path("manifest.json").unwrap();
    huge.set_size(1 << 40);
    huge.set_cksum();
    let mut claimed = huge.as_bytes().to_vec();
    claimed.extend_from_slice(&[b'{'; 4096]);
    let claims = dir.path().join("claims.tar");
    std::fs::write(&claims, claimed).unwrap();
    let o = valv(&target, &["import", claims.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("import_damaged") && err.contains("larger than"), "{err}");
    let list = ok(&valv(&target, &["tenant", "list", "--json"]));
    assert!(list.as_array().unwrap().is_empty(), "nothing was half-imported");
    ok(&valv(&target, &["import", good.to_str().unwrap()]));
    let again = valv(&target, &["import", good.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("import_conflict"),
        "an existing tenant is not overwritten"
    );
}

/// Two imports of one archive at once: one wins, the other is refused, and
/// the winner's files stay readable (the loser never replaces its data key).
#[tokio::test]
async fn two_imports_of_one_archive_at_once_leave_one_readable_tenant() {
    let (id, dir, archive) = exported_tenant(9, 120_000).await;
    for round in 0..3 {
        let target = dir.path().join(format!("target-{round}"));
        ok(&valv(&target, &["tenant", "list", "--json"]));
        let start = || {
            Command::new(env!("CARGO_BIN_EXE_valv"))
                .arg("--data-dir")
                .arg(&target)
                .args(["import", archive.to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (start(), start());
        let outcomes = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        assert_eq!(outcomes.iter().filter(|o| o.status.success()).count(), 1, "round {round}: one import wins");
        for o in outcomes.iter().filter(|o| !o.status.success()) {
            assert!(String::from_utf8_lossy(&o.stderr).contains("import_conflict"), "{o:?}");
        }
        ok(&valv(&target, &["tenant", "terminate", &id, "--json"]));
        let again = dir.path().join(format!("again-{round}.tar"));
        ok(&valv(&target, &["export", "--tenant", &id, "--out", again.to_str().unwrap()]));
        let p = parts(&again);
        assert_eq!(p[&format!("files/{}", first_file(&p))], vec![9u8; 120_000], "the files decrypt with the kept key");
    }
}

#[tokio::test]
async fn administrators_export_through_the_api_with_progress() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (_, member) = app.member(&t, "m@acme.example", "member").await;
    let _ = api.upload(&t.owner, "/", "a.bin", vec![3u8; 200_000]).await.created();
    assert_eq!(api.start_export(&member).await.status, 403, "members do not export");
    let job = api.start_export(&t.owner).await.expect(202);
    let id = job["id"].as_str().unwrap();
    let state = finished(&api, &t.owner, id).await;
    assert_eq!(state["state"], "done", "{state}");
    assert_eq!(state["progress"]["bytes_done"], 200_000);
    let archive = api.export_archive(&t.owner, id).await;
    assert_eq!(archive.headers["content-type"], "application/x-tar");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api.tar");
    std::fs::write(&path, archive.bytes).unwrap();
    let p = parts(&path);
    assert!(p.contains_key("manifest.json") && p.contains_key("export.json"));
    let journal = app.journal(&t.owner).await;
    assert!(journal.iter().any(|e| e["action"] == "tenant.exported"), "the export is journaled");

    // The CLI writes `export.json` straight into its place in the file: the
    // same archive, every part matching its manifest hash.
    let _ = api.tenant_action(&op, &t.id, "terminate").await.ok();
    let file = dir.path().join("cli.tar");
    ok(&app.cli(&["export", "--tenant", &t.id, "--out", file.to_str().unwrap(), "--json"]));
    let f = parts(&file);
    assert_eq!(f.keys().collect::<Vec<_>>(), p.keys().collect::<Vec<_>>());
    assert_eq!(f[&format!("files/{}", first_file(&p))], vec![3u8; 200_000]);
    assert_eq!(comparable(&f["export.json"]), comparable(&p["export.json"]));
    let journal = |doc: &[u8]| serde_json::from_slice::<Value>(doc).unwrap()["journal"].as_array().unwrap().clone();
    let (api_journal, cli_journal) = (journal(&p["export.json"]), journal(&f["export.json"]));
    assert_eq!(cli_journal[..api_journal.len()], api_journal[..], "the later journal extends the earlier one");
    let manifest: Value = serde_json::from_slice(&f["manifest.json"]).unwrap();
    for (name, bytes) in f.iter().filter(|(n, _)| *n != "manifest.json") {
        use sha2::Digest as _;
        assert_eq!(manifest["parts"][name], hex::encode(sha2::Sha256::digest(bytes)), "{name}");
    }
}

/// The state of export `id` once it no longer runs.
async fn finished(api: &Api<'_>, admin: &reqwest::Client, id: &str) -> Value {
    for _ in 0..400 {
        let state = api.export_status(admin, id).await.ok();
        if state["state"] != "running" {
            return state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the export did not finish");
}

/// The path under `files/` of the first file part.
fn first_file(parts: &BTreeMap<String, Vec<u8>>) -> String {
    parts.keys().find_map(|k| k.strip_prefix("files/")).unwrap().to_owned()
}

#[tokio::test]
async fn a_blocked_tenant_is_not_exported_by_anyone() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let _ = api.tenant_action(&op, &t.id, "block").await.ok();
    api.start_export(&t.owner).await.error(403, "tenant_blocked"); // its administrators are shut out
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("blocked.tar");
    let o = app.cli(&["export", "--tenant", &t.id, "--out", out.to_str().unwrap()]);
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("agreement ended"),
        "operators export a tenant only after its agreement ended"
    );
    assert!(!out.exists(), "no archive was started");
}

/// Review L7 and the new users' finding: a second export while one runs is
/// refused with 409 (not accepted and then failed), and a tenant keeps only
/// its newest archive.
#[tokio::test]
async fn one_export_runs_at_a_time_and_a_new_one_replaces_the_last_archive() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let _ = api.upload(&t.owner, "/", "big.bin", vec![5u8; 24 << 20]).await.created();
    let (a, b) = tokio::join!(api.start_export(&t.owner), api.start_export(&t.owner));
    let (accepted, refused) = if a.status == 202 { (a, b) } else { (b, a) };
    refused.error(409, "export_running"); // the other is refused
    let first = accepted.expect(202);
    let first_id = first["id"].as_str().unwrap();

    assert_eq!(finished(&api, &t.owner, first_id).await["state"], "done");
    let next = api.start_export(&t.owner).await.expect(202);
    assert_eq!(finished(&api, &t.owner, next["id"].as_str().unwrap()).await["state"], "done");
    let old = api.export_archive(&t.owner, first_id).await;
    assert_eq!(old.status, 404, "the earlier archive is gone");
}
