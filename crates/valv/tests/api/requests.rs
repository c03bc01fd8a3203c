//! The data-subject request workflow, through the public endpoint.

use serde_json::{Value, json};

use crate::{app, code};

#[tokio::test]
async fn a_subject_files_verifies_and_is_answered_within_the_deadline() {
    let app = app();
    let op = app.operator().await;
    let t = app.tenant(&op, "acme").await;
    let col = json!({ "name": "contacts", "data_subject": true, "fields": [
        { "name": "name", "type": "text", "personal": "identity" }, { "name": "email", "type": "email", "personal": "contact" }]});
    t.owner.post(app.at("/api/v1/collections")).json(&col).send().await.unwrap();
    t.owner
        .post(app.at("/api/v1/collections/contacts/records"))
        .json(&json!({ "name": "Eve", "email": "eve@x.example" }))
        .send()
        .await
        .unwrap();

    let public = valv_testkit::client();
    let r = public
        .post(app.at("/api/v1/public/acme/requests"))
        .json(&json!({ "kind": "access", "email": "eve@x.example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "anyone may file, no account needed");
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        public
            .post(app.at("/api/v1/public/nope/requests"))
            .json(&json!({ "kind": "access", "email": "e@x.example" }))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let answer = app.at(&format!("/api/v1/requests/{id}/answer"));
    assert_eq!(
        code(t.owner.post(&answer).send().await.unwrap()).await,
        (409, "not_verified".into()),
        "no answer before the address is proven"
    );
    let list: Value = t.owner.get(app.at("/api/v1/requests")).send().await.unwrap().json().await.unwrap();
    let req = &list[0];
    assert_eq!((req["status"].as_str(), req["deadline"].as_str()), (Some("awaiting_verification"), Some("open")));
    assert!(req["due"].as_str().unwrap() > req["received_at"].as_str().unwrap());

    let mail = app.outbox().into_iter().rev().find(|m| m["to"]["address"] == "eve@x.example").unwrap();
    let code_line =
        mail["body"].as_str().unwrap().lines().rev().find(|l| l.split('.').count() == 3).unwrap().trim().to_owned();
    let bad =
        public.post(app.at("/api/v1/public/requests/verify")).json(&json!({ "code": "x.y.z" })).send().await.unwrap();
    assert_eq!(code(bad).await, (401, "verification_invalid".into()));
    assert_eq!(
        public
            .post(app.at("/api/v1/public/requests/verify"))
            .json(&json!({ "code": code_line }))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );

    let ext = app.at(&format!("/api/v1/requests/{id}/extend"));
    let r = t.owner.post(&ext).json(&json!({ "months": 3, "reason": "complex" })).send().await.unwrap();
    assert_eq!(code(r).await, (422, "extension_refused".into()), "at most two further months");
    let r: Value = t
        .owner
        .post(&ext)
        .json(&json!({ "months": 2, "reason": "many systems to search" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["extended_by_months"], 2);

    let done: Value = t.owner.post(&answer).send().await.unwrap().json().await.unwrap();
    assert_eq!(done["status"], "answered");
    assert_eq!(done["response"]["records"][0]["current"]["name"], "Eve", "the extract is the answer");
    assert_eq!(code(t.owner.post(&answer).send().await.unwrap()).await.1, "already_answered");
    let actions: Vec<String> =
        app.journal(&t.owner).await.iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    for a in ["request.received", "request.verified", "request.extended", "request.answered"] {
        assert!(actions.iter().any(|x| x == a), "{a} journaled");
    }
}
