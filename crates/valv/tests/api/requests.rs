//! The data-subject request workflow, through the public endpoint.

use serde_json::json;

use crate::app;

#[tokio::test]
async fn a_subject_files_verifies_and_is_answered_within_the_deadline() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let col = json!({ "name": "contacts", "data_subject": true, "fields": [
        { "name": "name", "type": "text", "personal": "identity" }, { "name": "email", "type": "email", "personal": "contact" }]});
    let _ = api.create_collection(&t.owner, col).await.created();
    let eve = json!({ "name": "Eve", "email": "eve@x.example" });
    let _ = api.create_record(&t.owner, "contacts", eve).await.created();

    let filed = api.file_request("acme", "access", "eve@x.example").await.expect(202);
    let id = filed["id"].as_str().unwrap().to_owned();
    let unknown = api.file_request("nope", "access", "e@x.example").await;
    assert_eq!(unknown.status, 202, "review L9: an unknown organisation is not told apart");
    assert!(app.outbox().iter().all(|m| m["to"]["address"] != "e@x.example"), "and nothing is sent for it");

    api.answer_request(&t.owner, &id).await.error(409, "not_verified");
    let list = api.requests(&t.owner, None).await.ok();
    let req = &list[0];
    assert_eq!((req["status"].as_str(), req["deadline"].as_str()), (Some("awaiting_verification"), Some("open")));
    assert!(req["due"].as_str().unwrap() > req["received_at"].as_str().unwrap());

    let mail = app.outbox().into_iter().rev().find(|m| m["to"]["address"] == "eve@x.example").unwrap();
    let code =
        mail["body"].as_str().unwrap().lines().rev().find(|l| l.split('.').count() == 3).unwrap().trim().to_owned();
    api.verify_request("x.y.z").await.error(401, "verification_invalid");
    assert_eq!(api.verify_request(&code).await.status, 204);

    api.extend_request(&t.owner, &id, 3, "complex").await.error(422, "extension_refused");
    let extended = api.extend_request(&t.owner, &id, 2, "many systems to search").await.ok();
    assert_eq!(extended["extended_by_months"], 2, "two further months are the most");

    let done = api.answer_request(&t.owner, &id).await.ok();
    assert_eq!(done["status"], "answered");
    assert_eq!(done["response"]["records"][0]["current"]["name"], "Eve", "the extract is the answer");
    api.answer_request(&t.owner, &id).await.error(409, "already_answered");
    let journal = api.journal(&t.owner).await.ok();
    let actions: Vec<&str> =
        journal["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["request.received", "request.verified", "request.extended", "request.answered"] {
        assert!(actions.contains(&a), "{a} journaled");
    }
}

/// Review H4: an erasure reaches what the subject's earlier requests hold.
/// An answered access request keeps a receipt, never the extract; the
/// erasure removes the subject's message from their requests, lists the
/// requests as kept with the reason, and a restore to an instant before the
/// erasure erases them again from the ledger.
#[tokio::test]
async fn an_erasure_leaves_nothing_of_the_subject_in_earlier_requests_or_a_restore() {
    let target = tempfile::tempdir().unwrap();
    let targets = format!("[\"one={}\"]", target.path().display());
    let app = crate::app_with(&[], &[("VALV_BACKUP_TARGETS", &targets)]);
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let col = json!({ "name": "patients", "data_subject": true, "fields": [
        { "name": "name", "type": "text", "personal": "identity" },
        { "name": "email", "type": "email", "personal": "contact" },
        { "name": "note", "type": "text", "personal": "health" }]});
    let _ = api.create_collection(&t.owner, col).await.created();
    let zed = json!({ "name": "Zed Unique-7731", "email": "zed@x.example", "note": "diagnosis-secret-4411" });
    let zed = api.create_record(&t.owner, "patients", zed).await.created();
    let orders = json!({ "name": "orders", "fields": [
        { "name": "patient", "type": "reference", "collection": "patients" },
        { "name": "delivery_name", "type": "text", "personal": "identity" }, { "name": "n", "type": "number" }]});
    let _ = api.create_collection(&t.owner, orders).await.created();
    let order = json!({ "patient": zed["id"], "delivery_name": "Zed Unique-7731", "n": 1 });
    let order = api.create_record(&t.owner, "orders", order).await.created();

    let answered = |kind: &'static str| {
        let (api, app, owner) = (&api, &app, &t.owner);
        async move {
            let body = json!({ "kind": kind, "email": "zed@x.example", "message": "my ssn is 19800101-1234" });
            let id = api.file_request_with("acme", body).await.expect(202)["id"].as_str().unwrap().to_owned();
            let mail = app.outbox().into_iter().rev().find(|m| m["to"]["address"] == "zed@x.example").unwrap();
            let body = mail["body"].as_str().unwrap();
            let code = body.lines().rev().find(|l| l.split('.').count() == 3).unwrap().trim().to_owned();
            assert_eq!(api.verify_request(&code).await.status, 204);
            api.answer_request(owner, &id).await.ok()
        }
    };
    let access = answered("access").await;
    assert_eq!(access["response"]["records"][0]["current"]["note"], "diagnosis-secret-4411", "the reply holds it");
    let kept = api.requests(&t.owner, None).await.ok();
    assert_eq!(kept[0]["response"]["sent"], "access_extract", "the request keeps a receipt: {kept}");
    assert!(!kept.to_string().contains("diagnosis-secret-4411"), "and not the extract: {kept}");

    let full = app.cli(&["backup", "now", "--json"]);
    assert!(full.status.success(), "{}", String::from_utf8_lossy(&full.stderr));
    let newest = api.journal(&t.owner).await.ok();
    let before_erasure = newest["entries"][0]["at"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let erasure = answered("erasure").await;
    let receipt = &erasure["response"];
    let kept_requests = receipt["kept"].as_array().unwrap().iter().filter(|k| k["collection"] == "requests").count();
    assert_eq!(kept_requests, 2, "both requests are kept, and the receipt says why: {receipt}");

    let secrets = ["diagnosis-secret-4411", "19800101-1234", "Zed Unique-7731"];
    let listed = api.requests(&t.owner, None).await.ok().to_string();
    for s in secrets {
        assert!(!listed.contains(s), "{s} is gone from the requests: {listed}");
    }
    let journal = api.journal(&t.owner).await.ok().to_string();
    assert!(!journal.contains("19800101-1234"), "and from the journal");
    let order = api.record(&t.owner, "orders", order["id"].as_str().unwrap()).await.ok();
    assert_eq!(order["data"]["n"], 1, "{order}");
    assert!(order["data"].get("delivery_name").is_none(), "a record referring to hers loses her name: {order}");
    assert!(app.outbox().iter().all(|m| m["to"]["address"] != "zed@x.example"), "no message to her is kept");

    for _ in 0..200 {
        let s: serde_json::Value = serde_json::from_slice(&app.cli(&["backup", "status", "--json"]).stdout).unwrap();
        if s["targets"][0]["shipped_seq"] == s["journal_seq"] {
            break; // the erasure, and the ledger with it, is on the target
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let to = tempfile::tempdir().unwrap();
    let data = to.path().join("data");
    let restore = ["restore", "--at", &before_erasure, "--from", "one", "--to", data.to_str().unwrap(), "--json"];
    let out = app.cli(&restore);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let restored = valv_testkit::spawn_at(std::path::Path::new(env!("CARGO_BIN_EXE_valv")), to, &[], &[]);
    let (owner, status, _) = restored.sign_in("acme", &t.owner_email, valv_testkit::PASSWORD).await;
    assert_eq!(status, 200);
    let listed = restored.api().requests(&owner, None).await.ok().to_string();
    for s in secrets {
        assert!(!listed.contains(s), "{s} is erased again in the restore: {listed}");
    }
}
