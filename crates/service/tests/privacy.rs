//! Data-subject rights at scale (review L13): a person found in more than
//! 10,000 records is reported and erased in every one of them, not in the
//! first 10,000 a query returned.
#![allow(clippy::unwrap_used)]

mod common;

use common::{PASSWORD, sign_in, world};
use serde_json::json;
use valv_domain::{CollectionId, RecordId};
use valv_service::privacy::SubjectQuery;
use valv_store::{Action, Actor, Chain, Change, RecordRow, Row};

#[tokio::test]
async fn a_subject_in_more_than_ten_thousand_records_is_reported_and_erased_in_all() {
    let w = world().await;
    let owner = w.valv.accounts().resolve_session(&sign_in(&w, PASSWORD).await.unwrap().cookie).await.unwrap();
    let content = w.valv.content();
    let orders = json!({ "name": "orders", "fields": [
        { "name": "email", "type": "email", "personal": "contact" }, { "name": "n", "type": "number" }]});
    let orders = content.create_collection(&owner, serde_json::from_value(orders).unwrap()).await.unwrap();
    let (tenant, _) = owner.admin().unwrap();
    let collection = CollectionId::parse(&orders.id).unwrap();

    // Written through the store in one batch: through the service, one by one, this would take minutes.
    let now = valv_domain::Clock::now(w.clock.as_ref());
    let changes: Vec<Change> = (0..10_050)
        .map(|n| {
            let r = RecordRow {
                id: RecordId::new(),
                tenant_id: tenant,
                collection_id: collection,
                revision: 1,
                data: json!({ "email": "zed@x.example", "n": n }),
                deleted_at: None,
                created_at: now,
                created_by: "system".into(),
                updated_at: now,
                updated_by: "system".into(),
            };
            Change::new(Chain::Tenant(tenant), now, Actor::System, Action::RecordCreated)
                .about("record", r.id)
                .row(Row::Record(r))
        })
        .collect();
    w.valv.context().store.commit_all(changes).await.unwrap();

    let q = SubjectQuery { email: Some("zed@x.example".into()), ..SubjectQuery::default() };
    let report = w.valv.privacy().access_report(&owner, &q).await.unwrap();
    assert_eq!(report.records.len(), 10_050, "every record is in the extract");
    let receipt = w.valv.privacy().erase_subject(&owner, &q).await.unwrap();
    assert_eq!(receipt.erased.len(), 10_050, "and erased");
    let after = w.valv.privacy().access_report(&owner, &q).await.unwrap();
    assert!(after.records.is_empty(), "nothing is left to find");
}

/// New users' finding: after an erasure the address stayed in the sign-in
/// and request counts, and in messages kept for it.
#[tokio::test]
async fn an_erasure_forgets_the_address_in_counts_and_kept_messages() {
    let w = world().await;
    let owner = w.valv.accounts().resolve_session(&sign_in(&w, PASSWORD).await.unwrap().cookie).await.unwrap();
    let people = json!({ "name": "people", "data_subject": true, "fields": [
        { "name": "email", "type": "email", "personal": "contact" }]});
    w.valv.content().create_collection(&owner, serde_json::from_value(people).unwrap()).await.unwrap();
    w.valv.content().create_record(&owner, "people", json!({ "email": "zed@x.example" })).await.unwrap();
    let new = json!({ "kind": "access", "email": "Zed@X.example" });
    w.valv.privacy().file_request("acme", serde_json::from_value(new).unwrap(), common::CLIENT).await.unwrap();
    let _ = w.valv.accounts().sign_in("acme", "zed@x.example", common::pw("wrong-wrong-wrong"), common::CLIENT).await;
    let store = &w.valv.context().store;
    assert!(store.throttle("requests:email:zed@x.example").await.unwrap().is_some());

    let q = SubjectQuery { email: Some("zed@x.example".into()), ..SubjectQuery::default() };
    w.valv.privacy().erase_subject(&owner, &q).await.unwrap();
    assert_eq!(store.throttle("requests:email:zed@x.example").await.unwrap(), None, "the request count");
    let tenant = owner.admin().unwrap().0;
    assert_eq!(store.throttle(&format!("account:{tenant}:zed@x.example")).await.unwrap(), None, "the sign-in count");
}
