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
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let (_, auditor) = app.member(&t, "audit@acme.example", "auditor").await;
    let (_, member) = app.member(&t, "m@acme.example", "member").await;
    assert_eq!(member.get(app.at("/api/v1/journal")).send().await.unwrap().status(), 403);
    assert_eq!(
        auditor.get(app.at("/api/v1/users")).send().await.unwrap().status(),
        403,
        "auditors read the log, nothing else"
    );
    let all = app.journal(&auditor).await;
    let mut paged = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let q = before.map_or(String::new(), |b| format!("&before={b}"));
        let page: Value =
            auditor.get(app.at(&format!("/api/v1/journal?limit=3{q}"))).send().await.unwrap().json().await.unwrap();
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
