use serde_json::{Value, json};
use valv_testkit::PASSWORD;

use crate::app;

#[tokio::test]
async fn every_change_and_sign_in_is_journaled_and_filterable() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let (uid, _) = app.member(&t, "bo@acme.example", "member").await;
    t.owner.post(app.at(&format!("/api/v1/users/{uid}/block"))).send().await.unwrap();
    let _ = app.sign_in("acme", "bo@acme.example", "wrong-wrong-wrong").await;
    t.owner.post(app.at("/api/v1/tokens")).json(&json!({ "name": "ci" })).send().await.unwrap();
    let actions: Vec<String> =
        app.journal(&t.owner).await.iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    for a in
        ["user.invited", "user.activated", "auth.signed_in", "user.blocked", "auth.sign_in_failed", "token.created"]
    {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    let failed: Value =
        t.owner.get(app.at("/api/v1/journal?action=auth.sign_in_failed")).send().await.unwrap().json().await.unwrap();
    let e = &failed["entries"][0];
    assert_eq!(e["actor"], "anonymous");
    assert_eq!(e["detail"]["reason"], "bad_credentials");
    let owner_actor = format!("user:{}", t.owner_id);
    let mine: Value = t
        .owner
        .get(app.at(&format!("/api/v1/journal?actor={owner_actor}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(mine["entries"].as_array().unwrap().iter().all(|e| e["actor"] == owner_actor.as_str()));
    let future: Value =
        t.owner.get(app.at("/api/v1/journal?from=2999-01-01T00:00:00Z")).send().await.unwrap().json().await.unwrap();
    assert!(future["entries"].as_array().unwrap().is_empty(), "time range filter");
    let all = app.journal(&t.owner).await;
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
