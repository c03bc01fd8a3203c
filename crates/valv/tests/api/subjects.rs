//! Finding a data subject and the register extract (GDPR Art. 15/20).

use serde_json::{Value, json};

use valv_testkit::Api;

use crate::app;

async fn setup(api: &Api<'_>, c: &reqwest::Client) -> (String, String) {
    let contacts = json!({ "name": "contacts", "data_subject": true,
        "processing": { "purpose": "customer service", "legal_basis": "contract", "retention": "2 years after the last order",
            "recipients": ["mail provider"], "source": "the customer" },
        "fields": [
            { "name": "name", "type": "text", "personal": "identity" },
            { "name": "email", "type": "email", "personal": "contact" },
            { "name": "phone", "type": "phone", "personal": "contact" },
            { "name": "photo", "type": "file" },
            { "name": "document", "type": "file" }]});
    let orders = json!({ "name": "orders", "fields": [
        { "name": "customer", "type": "reference", "collection": "contacts" }, { "name": "total", "type": "number" }]});
    let tickets = json!({ "name": "tickets", "fields": [
        { "name": "reporter", "type": "email", "personal": "contact" }, { "name": "text", "type": "text" }]});
    for col in [contacts, orders, tickets] {
        let _ = api.create_collection(c, col).await.created();
    }
    let ada = json!({ "name": "Ada <b>Lind</b>", "email": "ada@x.example", "phone": "+46701111111" });
    let ada = api.create_record(c, "contacts", ada).await.created();
    let other = json!({ "name": "Ada <b>Lind</b>", "email": "other@x.example", "phone": "+46702222222" });
    let other = api.create_record(c, "contacts", other).await.created();
    let _ = api.create_record(c, "orders", json!({ "customer": ada["id"], "total": 99 })).await.created();
    let _ = api.create_record(c, "orders", json!({ "customer": other["id"], "total": 5 })).await.created();
    let _ =
        api.create_record(c, "tickets", json!({ "reporter": "ADA@x.example", "text": "my parcel" })).await.created();
    (ada["id"].as_str().unwrap().to_owned(), other["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_subject_is_found_by_identifiers_never_by_name() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (ada, other) = setup(&api, &t.owner).await;
    let s = api.search_subject(&t.owner, json!({ "email": "Ada@X.example" })).await.ok();
    let ids: Vec<&str> = s["matches"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [ada.as_str()], "the namesake is not merged in");
    assert_eq!(s["related_records"], 2, "her order and her ticket");
    assert_eq!(s["ambiguous"], false);
    let both = api.search_subject(&t.owner, json!({ "email": "ada@x.example", "phone": "+46702222222" })).await.ok();
    assert_eq!(both["ambiguous"], true, "identifiers pointing at two people are flagged");
    assert!(both["matches"].as_array().unwrap().iter().any(|m| m["id"] == other.as_str()));
    api.search_subject(&t.owner, json!({})).await.error(422, "validation_failed");
}

#[tokio::test]
async fn the_register_extract_holds_everything_and_what_art_15_requires() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (ada, _) = setup(&api, &t.owner).await;
    let _ = api.update_record(&t.owner, "contacts", &ada, json!({ "phone": "+46703333333" }), None).await.ok();
    let r = api.access_report(&t.owner, json!({ "email": "ada@x.example" })).await.ok();
    let recs = r["records"].as_array().unwrap();
    assert_eq!(recs.len(), 3);
    let subject = recs.iter().find(|x| x["relation"] == "subject").unwrap();
    assert_eq!(subject["revisions"].as_array().unwrap().len(), 2, "every revision, including the old phone number");
    assert_eq!(subject["revisions"][0]["data"]["phone"], "+46701111111");
    let p = &r["processing"].as_array().unwrap().iter().find(|p| p["collection"] == "contacts").unwrap().clone();
    assert_eq!(p["purpose"], "customer service");
    assert_eq!(p["categories"], json!(["contact", "identity"]));
    assert_eq!(p["recipients"], json!(["mail provider"]));
    assert!(!r["journal"].as_array().unwrap().is_empty(), "journal entries about her");

    // Raw: the HTML extract is read as text, which the typed client does not do.
    let html = t
        .owner
        .post(app.at("/api/v1/subjects/access?format=html"))
        .json(&json!({ "email": "ada@x.example" }))
        .send()
        .await
        .unwrap();
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = html.text().await.unwrap();
    assert!(page.contains("Register extract") && page.contains("customer service"));
    assert!(page.contains("&lt;b&gt;Lind") && !page.contains("<b>Lind"), "values are escaped");

    let unknown = api.access_report(&t.owner, json!({ "email": "nobody@x.example" })).await.ok();
    assert!(
        unknown["records"].as_array().unwrap().is_empty() && unknown["generated_at"].is_string(),
        "no data held is still an answer"
    );
    let journal = app.journal(&t.owner).await;
    assert_eq!(
        journal.iter().filter(|e| e["action"] == "subject.access_report").count(),
        3,
        "each extract is journaled"
    );
}

#[tokio::test]
async fn erasure_removes_the_subject_everywhere_keeps_held_records_and_the_journal_verifies() {
    let app = app();
    let (api, op) = (app.api(), app.operator().await);
    let t = app.tenant(&op, "acme").await;
    let (ada, other) = setup(&api, &t.owner).await;
    let hold = json!({ "processing": { "legal_hold": "bookkeeping, 7 years (Bokföringslagen 7:2)" } });
    let _ = api.update_collection(&t.owner, "orders", hold).await.ok();
    let hers = api.upload(&t.owner, "/", "ada.jpg", b"ada's face".to_vec()).await.created();
    let shared = api.upload(&t.owner, "/", "logo.png", b"company logo".to_vec()).await.created();
    let patch = json!({ "phone": "+46703333333", "photo": hers["id"], "document": shared["id"] });
    let _ = api.update_record(&t.owner, "contacts", &ada, patch, None).await.ok();
    let _ = api.update_record(&t.owner, "contacts", &other, json!({ "document": shared["id"] }), None).await.ok();

    let both = json!({ "email": "ada@x.example", "phone": "+46702222222" });
    api.erase_subject(&t.owner, both).await.error(409, "subject_ambiguous"); // never two people at once
    api.erase_subject(&t.owner, json!({ "email": t.owner_email })).await.error(409, "last_owner");

    let r = api.erase_subject(&t.owner, json!({ "email": "ada@x.example" })).await.ok();
    let erased: Vec<&str> =
        r["erased"].as_array().unwrap().iter().map(|e| e["collection"].as_str().unwrap_or("(file)")).collect();
    assert_eq!(erased, ["contacts", "tickets", "(file)"], "{r}");
    let id = |f: &Value| f["id"].as_str().unwrap().to_owned();
    assert_eq!(api.file(&t.owner, &id(&hers)).await.status, 404, "a file only she was linked to is erased");
    assert_eq!(api.file(&t.owner, &id(&shared)).await.status, 200, "a file another person's record names stays");
    assert_eq!(r["kept"][0]["collection"], "orders");
    assert!(r["kept"][0]["reason"].as_str().unwrap().contains("bookkeeping"));

    assert_eq!(api.record(&t.owner, "contacts", &ada).await.status, 404, "the subject record is gone");
    let revs = api.revisions(&t.owner, "contacts", &ada).await.ok();
    let old = revs.as_array().unwrap().iter().any(|v| v.to_string().contains("+46701111111"));
    assert!(!old, "no revision keeps the old data: {revs}");
    let again = api.search_subject(&t.owner, json!({ "email": "ada@x.example" })).await.ok();
    assert!(
        again["matches"].as_array().unwrap().is_empty() && again["related_records"] == 0,
        "nothing left to find: {again}"
    );
    assert_eq!(api.record(&t.owner, "contacts", &other).await.status, 200, "the namesake is untouched");

    let verify = app.cli(&["audit", "verify", "--json"]);
    assert!(verify.status.success(), "the journal still verifies: {}", String::from_utf8_lossy(&verify.stdout));
    let db = rusqlite::Connection::open(app.data_dir().join("valv.db")).unwrap();
    let marked: i64 = db
        .query_row("SELECT COUNT(*) FROM journal WHERE erased_by = ?1", [r["id"].as_str().unwrap()], |x| x.get(0))
        .unwrap();
    assert!(marked >= 2, "blanked payloads name the erasure");
    let ledger: i64 = db.query_row("SELECT COUNT(*) FROM erasure_ledger", [], |x| x.get(0)).unwrap();
    assert_eq!(ledger, 1, "the erasure is in the ledger");
    drop(db);

    // An export takes a record's creation from its newest journal image, or
    // from its row where the erasure blanked that image: either way the row's.
    let _ = api.tenant_action(&op, &t.id, "terminate").await.ok();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("after-erasure.tar");
    let o = app.cli(&["export", "--tenant", &t.id, "--out", archive.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: Value = serde_json::from_slice(&crate::export::parts(&archive)["export.json"]).unwrap();
    let records = doc["records"].as_array().unwrap();
    assert!(records.iter().any(|r| r["id"] == ada.as_str()), "the erased subject's record is exported, redacted");
    // Exports give instants to the microsecond.
    let stamp = |s: &str| {
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
        t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap()
    };
    let store = crate::stored(&app).await;
    let tenant = valv_domain::TenantId::parse(&t.id).unwrap();
    for r in records {
        let id = valv_domain::RecordId::parse(r["id"].as_str().unwrap()).unwrap();
        let row = valv_store::ContentStore::record(store.as_ref(), tenant, id).await.unwrap().unwrap();
        let micros = row.created_at.replace_nanosecond(row.created_at.nanosecond() / 1_000 * 1_000).unwrap();
        assert_eq!(stamp(r["created_at"].as_str().unwrap()), micros, "{r}");
        assert_eq!(r["created_by"], row.created_by.as_str(), "{r}");
    }
}
