use serde_json::{Value, json};
use valv_testkit::PASSWORD;

use crate::app;

/// The entries of a journal answer.
fn entries(answer: valv_testkit::Answer) -> Vec<Value> {
    answer.ok()["entries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn every_change_and_sign_in_is_journaled_and_filterable() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (uid, _) = app.member(&t, "bo@acme.example", "member").await;
    let _ = api.user_action(&t.owner, &uid, "block").await.ok();
    let _ = app.sign_in("acme", "bo@acme.example", "wrong-wrong-wrong").await;
    let _ = api.create_token(&t.owner, json!({ "name": "ci" })).await.created();
    let all = entries(api.journal(&t.owner).await);
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in
        ["user.invited", "user.activated", "auth.signed_in", "user.blocked", "auth.sign_in_failed", "token.created"]
    {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let failed = entries(api.journal_where(&t.owner, "action=auth.sign_in_failed").await);
    assert_eq!((&failed[0]["actor"], &failed[0]["detail"]["reason"]), (&json!("anonymous"), &json!("bad_credentials")));
    let owner_actor = format!("user:{}", t.owner_id);
    let mine = entries(api.journal_where(&t.owner, &format!("actor={owner_actor}")).await);
    assert!(mine.iter().all(|e| e["actor"] == owner_actor.as_str()), "filtered by actor");
    let future = entries(api.journal_where(&t.owner, "from=2999-01-01T00:00:00Z").await);
    assert!(future.is_empty(), "time range filter");
    assert!(all.iter().all(|e| !e.to_string().contains("argon2")), "no password hash reaches the journal API");
}

#[tokio::test]
async fn journal_pages_chain_and_only_owners_admins_and_auditors_read_it() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (_, auditor) = app.member(&t, "audit@acme.example", "auditor").await;
    let (_, member) = app.member(&t, "m@acme.example", "member").await;
    assert_eq!(api.journal(&member).await.status, 403);
    assert_eq!(api.users(&auditor).await.status, 403, "auditors read the log, nothing else");
    let all = app.journal(&auditor).await;
    let mut paged = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let q = before.map_or(String::new(), |b| format!("&before={b}"));
        let page = api.journal_where(&auditor, &format!("limit=3{q}")).await.ok();
        paged.extend(page["entries"].as_array().unwrap().iter().cloned());
        match page["next_before"].as_u64() {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!(paged, all, "paging visits every entry once, newest first");
    for pair in all.windows(2) {
        assert_eq!(pair[0]["prev_hash"], pair[1]["hash"], "entries link by hash");
    }
    let _ = PASSWORD;
}

#[tokio::test]
async fn audit_verify_passes_then_names_the_first_tampered_entry() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    app.member(&t, "bo@acme.example", "member").await;
    let ok = app.cli(&["audit", "verify", "--json"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let v: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert!(v["chains"].as_array().unwrap().len() >= 2, "provider chain and the tenant's chain");

    let db = rusqlite::Connection::open(app.data_dir().join("valv.db")).unwrap();
    db.execute("UPDATE journal SET actor = 'someone-else' WHERE chain = ?1 AND chain_seq = 2", [&t.id]).unwrap();
    let broken = app.cli(&["audit", "verify", "--tenant", &t.id]);
    assert!(!broken.status.success());
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(out.contains(&format!("chain {}: entry 2", t.id)) && out.contains("altered"), "{out}");
}

/// New users' finding: deleting the newest journal entries and rewriting
/// `journal_heads` passes `audit verify`, whose only anchor is in the same
/// database. The chain heads shipped to a backup target are an anchor
/// outside it: `audit verify --against` names the cut chain.
#[tokio::test]
async fn a_journal_cut_in_the_database_is_caught_against_a_backup_target() {
    let target = tempfile::tempdir().unwrap();
    let targets = format!("[\"one={}\"]", target.path().display());
    let app = crate::app_with(&[], &[("VALV_BACKUP_TARGETS", &targets)]);
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let notes = serde_json::json!({ "name": "notes", "fields": [{ "name": "n", "type": "number" }] });
    let _ = api.create_collection(&t.owner, notes).await.created();
    for n in 0..3 {
        let _ = api.create_record(&t.owner, "notes", serde_json::json!({ "n": n })).await.created();
    }
    for _ in 0..200 {
        let s: serde_json::Value = serde_json::from_slice(&app.cli(&["backup", "status", "--json"]).stdout).unwrap();
        if s["targets"][0]["shipped_seq"] == s["journal_seq"] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let clean = app.cli(&["audit", "verify", "--against", "one"]);
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stdout));
    if std::env::var("VALV_TEST_DATABASE").is_ok_and(|d| d == "postgres") {
        return; // the cut below is made in the SQLite file
    }
    let root = app.crash();
    let db = rusqlite::Connection::open(root.path().join("data/valv.db")).unwrap();
    let chain = t.id.clone();
    let (newest, prev): (i64, String) = db
        .query_row(
            "SELECT chain_seq, prev_hash FROM journal WHERE chain = ?1 ORDER BY chain_seq DESC LIMIT 1",
            [&chain],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    db.execute("DELETE FROM journal WHERE chain = ?1 AND chain_seq = ?2", rusqlite::params![chain, newest]).unwrap();
    db.execute(
        "UPDATE journal_heads SET chain_seq = ?2, hash = ?3 WHERE chain = ?1",
        rusqlite::params![chain, newest - 1, prev],
    )
    .unwrap();
    drop(db);

    let data = root.path().join("data");
    let env = [("VALV_BACKUP_TARGETS", targets.as_str())];
    let valv = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_valv"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .envs(env)
            .output()
            .unwrap()
    };
    assert!(valv(&["audit", "verify"]).status.success(), "the database alone cannot tell");
    let caught = valv(&["audit", "verify", "--against", "one", "--json"]);
    assert!(!caught.status.success());
    let report: serde_json::Value = serde_json::from_slice(&caught.stdout).unwrap();
    let row = report["chains"].as_array().unwrap().iter().find(|c| c["chain"] == chain.as_str()).unwrap().clone();
    assert_eq!((row["ok"].as_bool(), row["chain_seq"].as_i64()), (Some(false), Some(newest)), "{report}");
    let unknown = valv(&["audit", "verify", "--against", "nowhere"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no backup target is named"));
}
