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
    assert_eq!(api.file_request("nope", "access", "e@x.example").await.status, 404, "an unknown organisation");

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
