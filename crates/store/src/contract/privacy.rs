//! The contract of PrivacyStore: requests read as written, an erasure that
//! redacts, blanks the journal payloads it names, drops file versions and
//! grows the ledger in one step, and a ledger that takes each erasure once.
//! (The purge of a tenant is walked table by table in `tables`.)

use super::*;

/// Runs this aggregate's contract tests.
pub(super) async fn run(s: &dyn Store) {
    requests_are_read_as_written_oldest_first_and_per_tenant(s).await;
    an_erasure_redacts_blanks_its_payloads_drops_versions_and_is_ledgered(s).await;
}

async fn requests_are_read_as_written_oldest_first_and_per_tenant(s: &dyn Store) {
    let t = committed_tenant(s, "contract-requests").await;
    let (first, second) = (request(t.id, "0190-a"), request(t.id, "0190-b"));
    for r in [&second, &first] {
        let c = Change::new(Chain::Tenant(t.id), T0, Actor::Anonymous, Action::RequestReceived).about("request", &r.id);
        s.commit(c.row(Row::Request(r.clone()))).await.expect("request");
    }
    assert_eq!(s.request(t.id, "0190-a").await.expect("read"), Some(first.clone()));
    assert_eq!(s.requests(t.id).await.expect("list"), vec![first, second], "oldest first");
    let other = committed_tenant(s, "contract-requests-other").await;
    assert_eq!(s.request(other.id, "0190-a").await.expect("read"), None, "scoped to the tenant");
    assert!(s.requests(other.id).await.expect("list").is_empty());
}

async fn an_erasure_redacts_blanks_its_payloads_drops_versions_and_is_ledgered(s: &dyn Store) {
    let t = committed_tenant(s, "contract-erase").await;
    let chain = Chain::Tenant(t.id);
    let u = user(t.id, "erased@example.se");
    for action in [Action::UserCreated, Action::UserUpdated] {
        s.commit(Change::new(chain, T0, Actor::Cli, action).about("user", u.id).row(Row::User(u.clone())))
            .await
            .expect("user");
    }
    let f = file(t.id, "/", "cv.pdf");
    let v = version(&f, 1, &["cv-chunk"]);
    let upload = Change::new(chain, T0, Actor::Cli, Action::FileCreated).about("file", f.id);
    s.commit(upload.row(Row::File(f.clone())).row(Row::FileVersion(v))).await.expect("file");
    let before = s.erasure_ledger().await.expect("ledger").len();

    let mut redacted = u.clone();
    redacted.name = PersonName::parse("Erased").expect("name");
    let change = Change::new(chain, T0, Actor::Cli, Action::SubjectErased).about("erasure", "erasure-1");
    let entities = vec![("user".to_owned(), u.id.to_string()), ("file".to_owned(), f.id.to_string())];
    let ledger = serde_json::json!({ "erased": [{ "kind": "user", "id": u.id.to_string() }] });
    let entry = s
        .erase(t.id, "erasure-1", entities, vec![f.id], ledger.clone(), change.row(Row::User(redacted.clone())))
        .await
        .expect("erase");

    assert_eq!(s.user(t.id, u.id).await.expect("read"), Some(redacted), "the redacted row is written");
    assert!(s.file_versions(t.id, f.id).await.expect("versions").is_empty(), "the versions are gone");
    let entries = s.chain_page(&t.id.to_string(), 0, u32::MAX).await.expect("chain");
    for e in entries.iter().filter(|e| e.entity == "user" || e.entity == "file") {
        assert_eq!(e.payload, None, "the payload of {} is blanked", e.action);
    }
    assert!(
        entries.iter().any(|e| e.seq == entry.seq && e.payload.is_some()),
        "the erasure's own entry keeps its rows"
    );
    let head = s.chain_heads().await.expect("heads").into_iter().find(|(k, _)| *k == t.id.to_string()).map(|(_, h)| h);
    assert!(verify(&t.id.to_string(), &entries, head.as_ref()).is_ok(), "the chain still verifies");

    let ledger_rows = s.erasure_ledger().await.expect("ledger");
    assert_eq!(ledger_rows.len(), before + 1, "one ledger row");
    let row = ledger_rows.iter().find(|l| l.id == "erasure-1").expect("the erasure's row");
    assert_eq!((row.tenant_id.as_str(), &row.detail), (t.id.to_string().as_str(), &ledger));
    let again = crate::LedgerRow { id: "erasure-2".into(), ..row.clone() };
    s.put_ledger(vec![row.clone(), again]).await.expect("put");
    assert_eq!(s.erasure_ledger().await.expect("ledger").len(), before + 2, "a row already there is not added twice");
}
