//! The contract suite: behaviour every backend must show. A backend's tests
//! call [`run_all`] with a fresh, empty store, and
//! [`every_table_is_dumped_restored_and_purged`] with two.

mod tables;

pub use tables::every_table_is_dumped_restored_and_purged;

use time::macros::datetime;
use valv_domain::{
    CollectionId, Email, PersonName, Phone, RecordId, Role, Slug, TenantId, TenantName, UserId, UserStatus,
};

use crate::journal::verify;
use crate::{
    Action, Actor, Chain, Change, CollectionRow, Constraint, Contact, JournalEntry, JournalQuery, Principal,
    Processing, RecordRow, Row, SessionRow, Store, StoreError, TenantRow, UserRow,
};

pub(crate) const T0: time::OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

/// Runs every contract test against `store`, which must start empty.
///
/// # Panics
/// When the backend breaks the contract.
pub async fn run_all(store: &dyn Store) {
    changes_write_rows_and_a_verifiable_journal(store).await;
    refused_change_writes_nothing(store).await;
    tenants_never_see_each_others_users(store).await;
    sessions_are_kept_and_ended(store).await;
    throttles_count_each_failure_keep_the_longest_lock_and_window_calls(store).await;
    setup_token_is_taken_once(store).await;
    journal_filters_and_pages(store).await;
    chains_read_in_pages_and_histories_in_bulk(store).await;
    changes_from_a_source_commit_whole_or_not_at_all(store).await;
    record_ids_page_in_order_with_deleted_ones(store).await;
    the_last_run_of_each_job_is_kept(store).await;
}

#[must_use]
pub fn tenant(slug: &str) -> TenantRow {
    TenantRow {
        id: TenantId::new(),
        slug: Slug::parse(slug).expect("slug"),
        name: TenantName::parse(slug).expect("name"),
        contact: Contact {
            name: PersonName::parse("Ada Contact").expect("name"),
            email: Email::parse("contact@example.se").expect("email"),
            phone: Phone::parse("+46701234567").expect("phone"),
        },
        status: UserStatus::Active,
        require_second_factor: false,
        limits: crate::TenantLimits::default(),
        terminated_at: None,
        purged_at: None,
        created_at: T0,
        updated_at: T0,
    }
}

/// An empty collection `name` of `tenant`.
#[must_use]
pub fn collection(tenant: TenantId, name: &str) -> CollectionRow {
    CollectionRow {
        id: CollectionId::new(),
        tenant_id: tenant,
        name: name.into(),
        fields: Vec::new(),
        data_subject: false,
        processing: Processing::default(),
        created_at: T0,
        updated_at: T0,
    }
}

#[must_use]
pub fn user(tenant: TenantId, email: &str) -> UserRow {
    UserRow {
        id: UserId::new(),
        tenant_id: tenant,
        name: PersonName::parse("Bo User").expect("name"),
        email: Email::parse(email).expect("email"),
        phone: Phone::parse("+46701234568").expect("phone"),
        role: Role::Member,
        status: UserStatus::Active,
        password_hash: None,
        invitation_digest: None,
        totp: None,
        recovery_codes: Vec::new(),
        created_at: T0,
        updated_at: T0,
    }
}

pub(crate) fn put(chain: Chain, action: Action, row: Row) -> Change {
    Change::new(chain, T0, Actor::Cli, action).about("test", "x").row(row)
}

async fn changes_write_rows_and_a_verifiable_journal(s: &dyn Store) {
    let t = tenant("contract-one");
    s.commit(put(Chain::Provider, Action::TenantCreated, Row::Tenant(t.clone()))).await.expect("tenant");
    let u = user(t.id, "a@example.se");
    let e = s.commit(put(Chain::Tenant(t.id), Action::UserCreated, Row::User(u.clone()))).await.expect("user");
    assert_eq!(e.chain_seq, 1, "first entry of a tenant chain");
    assert_eq!(s.user(t.id, u.id).await.expect("read"), Some(u.clone()));
    assert_eq!(s.tenant_by_slug(&t.slug).await.expect("read"), Some(t.clone()));
    for (key, head) in s.chain_heads().await.expect("heads") {
        let entries = s.chain_page(&key, 0, u32::MAX).await.expect("entries");
        assert!(verify(&key, &entries, Some(&head)).is_ok(), "chain {key} verifies");
    }
}

async fn refused_change_writes_nothing(s: &dyn Store) {
    let t = tenant("contract-two");
    s.commit(put(Chain::Provider, Action::TenantCreated, Row::Tenant(t.clone()))).await.expect("tenant");
    let first = user(t.id, "dup@example.se");
    s.commit(put(Chain::Tenant(t.id), Action::UserCreated, Row::User(first))).await.expect("first");
    let before = s.chain_page(&t.id.to_string(), 0, u32::MAX).await.expect("entries").len();
    let mut dup = user(t.id, "DUP@example.se");
    dup.name = PersonName::parse("Other").expect("name");
    let err = s.commit(put(Chain::Tenant(t.id), Action::UserCreated, Row::User(dup.clone()))).await;
    assert!(matches!(err, Err(StoreError::Conflict(Constraint::UsersTenantEmail))), "{err:?}");
    assert_eq!(s.user(t.id, dup.id).await.expect("read"), None, "refused row is absent");
    assert_eq!(s.chain_page(&t.id.to_string(), 0, u32::MAX).await.expect("entries").len(), before, "no journal entry");
}

async fn tenants_never_see_each_others_users(s: &dyn Store) {
    let (a, b) = (tenant("contract-a"), tenant("contract-b"));
    for t in [&a, &b] {
        s.commit(put(Chain::Provider, Action::TenantCreated, Row::Tenant(t.clone()))).await.expect("tenant");
    }
    let ua = user(a.id, "same@example.se");
    let ub = user(b.id, "same@example.se");
    s.commit(put(Chain::Tenant(a.id), Action::UserCreated, Row::User(ua.clone()))).await.expect("a");
    s.commit(put(Chain::Tenant(b.id), Action::UserCreated, Row::User(ub.clone())))
        .await
        .expect("b: same e-mail, other tenant");
    assert_eq!(s.user(b.id, ua.id).await.expect("read"), None);
    assert_eq!(s.users(a.id).await.expect("list"), vec![ua.clone()]);
    let mut moved = ua.clone();
    moved.tenant_id = b.id;
    let err = s.commit(put(Chain::Tenant(b.id), Action::UserUpdated, Row::User(moved))).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "a row cannot move tenant: {err:?}");
}

async fn sessions_are_kept_and_ended(s: &dyn Store) {
    let p = Principal::User { tenant: TenantId::new(), user: UserId::new() };
    let mk = |id: &str| SessionRow {
        id: id.to_owned(),
        secret_digest: "d".into(),
        principal: p,
        complete: true,
        created_at: T0,
        expires_at: T0,
        code_digest: None,
        code_expires_at: None,
        code_failures: 0,
    };
    s.put_session(mk("s1")).await.expect("put");
    s.put_session(mk("s2")).await.expect("put");
    assert_eq!(s.session("s1").await.expect("get"), Some(mk("s1")));
    s.delete_sessions(p, Some("s2")).await.expect("delete");
    assert_eq!(s.session("s1").await.expect("get"), None);
    assert!(s.session("s2").await.expect("get").is_some(), "kept session stays");
}

async fn throttles_count_each_failure_keep_the_longest_lock_and_window_calls(s: &dyn Store) {
    let key = "account:acme:ada@acme.example";
    // At the same moment, as a burst of failed sign-ins on several connections.
    let counts = futures::future::join_all((0..12).map(|_| s.add_failure(key))).await;
    let mut counts: Vec<u32> = counts.into_iter().map(|c| c.expect("count")).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=12).collect::<Vec<u32>>(), "each failure counted once, none lost");
    s.lock_throttle(key, T0 + time::Duration::minutes(5)).await.expect("lock");
    s.lock_throttle(key, T0 + time::Duration::minutes(1)).await.expect("shorter lock");
    let t = s.throttle(key).await.expect("read").expect("a throttle");
    assert_eq!((t.failures, t.locked_until), (12, Some(T0 + time::Duration::minutes(5))), "the longer lock stays");
    s.clear_throttle(key).await.expect("clear");
    assert_eq!(s.throttle(key).await.expect("read"), None);

    let (rate, window) = ("requests:address:192.0.2.1", time::Duration::hours(1));
    let call = |at| s.count_call(rate, at, window);
    let first = call(T0).await.expect("call");
    assert_eq!((first.failures, first.locked_until), (1, Some(T0 + window)));
    assert_eq!(call(T0 + time::Duration::minutes(59)).await.expect("call").failures, 2, "same window");
    let next = call(T0 + time::Duration::minutes(61)).await.expect("call");
    let end = T0 + time::Duration::minutes(61) + window;
    assert_eq!((next.failures, next.locked_until), (1, Some(end)), "a new window once the last has ended");
}

async fn setup_token_is_taken_once(s: &dyn Store) {
    s.put_setup_token("abc").await.expect("put");
    assert!(!s.take_setup_token("wrong").await.expect("take"));
    assert!(s.take_setup_token("abc").await.expect("take"));
    assert!(!s.take_setup_token("abc").await.expect("take twice"));
}

async fn journal_filters_and_pages(s: &dyn Store) {
    let t = tenant("contract-journal");
    s.commit(put(Chain::Provider, Action::TenantCreated, Row::Tenant(t.clone()))).await.expect("tenant");
    let chain = Chain::Tenant(t.id);
    for i in 0..5 {
        let c = Change::new(
            chain,
            T0 + time::Duration::minutes(i),
            Actor::System,
            if i % 2 == 0 { Action::AuthSignedIn } else { Action::AuthSignInFailed },
        );
        s.commit(c).await.expect("event");
    }
    let q = |f: fn(&mut JournalQuery)| {
        let mut q = JournalQuery { limit: 100, ..JournalQuery::default() };
        f(&mut q);
        q
    };
    let evens = s.journal(chain, &q(|q| q.action = Some(Action::AuthSignedIn.as_str().into()))).await.expect("q");
    assert_eq!(evens.iter().map(|e| e.chain_seq).collect::<Vec<_>>(), vec![5, 3, 1]);
    let page = s
        .journal(
            chain,
            &q(|q| {
                q.before = Some(3);
                q.limit = 1
            }),
        )
        .await
        .expect("q");
    assert_eq!(page.iter().map(|e| e.chain_seq).collect::<Vec<_>>(), vec![2]);
    let late = s.journal(chain, &q(|q| q.from = Some(T0 + time::Duration::minutes(3)))).await.expect("q");
    assert_eq!(late.len(), 2);
}

async fn chains_read_in_pages_and_histories_in_bulk(s: &dyn Store) {
    let t = tenant("contract-pages");
    s.commit(put(Chain::Provider, Action::TenantCreated, Row::Tenant(t.clone()))).await.expect("tenant");
    let users: Vec<UserRow> = (0..4).map(|i| user(t.id, &format!("p{i}@example.se"))).collect();
    for u in &users {
        let c = Change::new(Chain::Tenant(t.id), T0, Actor::Cli, Action::UserCreated)
            .about("user", u.id)
            .row(Row::User(u.clone()));
        s.commit(c).await.expect("user");
    }
    let c = Change::new(Chain::Tenant(t.id), T0, Actor::Cli, Action::UserUpdated).about("user", users[0].id);
    s.commit(c.row(Row::User(users[0].clone()))).await.expect("update");
    let key = t.id.to_string();
    let page: Vec<u64> = s.chain_page(&key, 2, 2).await.expect("page").iter().map(|e| e.chain_seq).collect();
    assert_eq!(page, vec![3, 4], "a page starts after the cursor and holds at most the limit");
    assert!(s.chain_page(&key, 5, 10).await.expect("page").is_empty(), "nothing after the last entry");
    let stripped: Vec<JournalEntry> = s
        .chain_page(&key, 0, 10)
        .await
        .expect("page")
        .into_iter()
        .map(|e| JournalEntry { payload: None, ..e })
        .collect();
    assert!(stripped.len() == 5, "the whole chain");
    assert_eq!(s.chain_links(&key, 0, 10).await.expect("links"), stripped, "links are the entries without payloads");

    let ids = vec![users[2].id.to_string(), users[0].id.to_string()];
    let got: Vec<(String, u64)> = s
        .histories(t.id, "user", ids.clone())
        .await
        .expect("histories")
        .into_iter()
        .map(|e| (e.entity_id, e.chain_seq))
        .collect();
    let mut want = vec![(users[0].id.to_string(), 1), (users[0].id.to_string(), 5), (users[2].id.to_string(), 3)];
    want.sort();
    assert_eq!(got, want, "grouped by entity id, oldest first, only the ids asked for");
    let other = tenant("contract-pages-other");
    assert!(s.histories(other.id, "user", ids).await.expect("histories").is_empty(), "scoped to the tenant");
}

async fn record_ids_page_in_order_with_deleted_ones(s: &dyn Store) {
    let t = tenant("contract-ids");
    s.commit(put(Chain::Provider, Action::TenantCreated, Row::Tenant(t.clone()))).await.expect("tenant");
    let collection = collection(t.id, "notes");
    s.commit(put(Chain::Tenant(t.id), Action::CollectionCreated, Row::Collection(collection.clone())))
        .await
        .expect("c");
    let record = |n: u64| RecordRow {
        id: RecordId::new(),
        tenant_id: t.id,
        collection_id: collection.id,
        revision: 1,
        data: serde_json::json!({ "n": n }),
        deleted_at: (n == 1).then_some(T0),
        created_at: T0 + time::Duration::seconds(n as i64),
        created_by: format!("user:{n}"),
        updated_at: T0,
        updated_by: "user:x".into(),
    };
    let mut rows: Vec<RecordRow> = (0..5).map(record).collect();
    for r in &rows {
        s.commit(put(Chain::Tenant(t.id), Action::RecordCreated, Row::Record(r.clone()))).await.expect("record");
    }
    rows.sort_by_key(|r| r.id.to_string());
    let want: Vec<RecordId> = rows.iter().map(|r| r.id).collect();
    let first = s.record_ids(t.id, collection.id, None, 3).await.expect("ids");
    assert_eq!(first, want[..3], "the first page, deleted records included");
    let rest = s.record_ids(t.id, collection.id, Some(first[2]), 3).await.expect("ids");
    assert_eq!(rest, want[3..], "the page after the cursor");
    let other = tenant("contract-ids-other");
    assert!(s.record_ids(other.id, collection.id, None, 10).await.expect("ids").is_empty(), "scoped to the tenant");
}

/// A source of `changes` that fails after `fail_after` of them, if given.
fn source(changes: Vec<Change>, fail_after: Option<usize>) -> crate::ChangeSource {
    let mut it = changes.into_iter().enumerate();
    Box::new(move || match it.next() {
        Some((i, _)) if Some(i) == fail_after => Err(StoreError::Backend("the source stopped".into())),
        Some((_, c)) => Ok(Some(c)),
        None => Ok(None),
    })
}

async fn changes_from_a_source_commit_whole_or_not_at_all(s: &dyn Store) {
    let t = tenant("contract-stream");
    let users: Vec<UserRow> = (0..3).map(|i| user(t.id, &format!("s{i}@example.se"))).collect();
    let changes = || {
        let mut all = vec![put(Chain::Provider, Action::TenantCreated, Row::Tenant(t.clone()))];
        all.extend(users.iter().map(|u| put(Chain::Tenant(t.id), Action::UserCreated, Row::User(u.clone()))));
        all
    };
    let err = s.commit_from(source(changes(), Some(3))).await;
    assert!(err.is_err(), "a failing source fails the commit");
    assert_eq!(s.tenant(t.id).await.expect("read"), None, "nothing of a failed source is written");
    assert!(s.chain_page(&t.id.to_string(), 0, u32::MAX).await.expect("entries").is_empty(), "no journal entry");

    assert_eq!(s.commit_from(source(changes(), None)).await.expect("commit"), 4);
    assert_eq!(s.tenant(t.id).await.expect("read"), Some(t.clone()));
    for u in &users {
        assert_eq!(s.user(t.id, u.id).await.expect("read").as_ref(), Some(u));
    }
    let entries = s.chain_page(&t.id.to_string(), 0, u32::MAX).await.expect("entries");
    assert_eq!(entries.len(), 3, "one entry per change");
    let head = s.chain_heads().await.expect("heads").into_iter().find(|(k, _)| *k == t.id.to_string()).map(|(_, h)| h);
    assert!(verify(&t.id.to_string(), &entries, head.as_ref()).is_ok(), "the chain verifies");
}

async fn the_last_run_of_each_job_is_kept(s: &dyn Store) {
    let run = |job: &str, minute: i64, outcome| crate::JobRun {
        job: job.to_owned(),
        started_at: T0 + time::Duration::minutes(minute),
        finished_at: Some(T0 + time::Duration::minutes(minute + 1)),
        outcome,
        detail: serde_json::json!({ "minute": minute }),
    };
    assert!(s.job_runs().await.expect("runs").is_empty(), "no job has run");
    s.put_job_run(run("purge", 0, crate::JobOutcome::Ok)).await.expect("put");
    s.put_job_run(run("full-backup", 1, crate::JobOutcome::Failed)).await.expect("put");
    s.put_job_run(run("purge", 60, crate::JobOutcome::Ok)).await.expect("put again");
    let runs = s.job_runs().await.expect("runs");
    assert_eq!(runs, vec![run("full-backup", 1, crate::JobOutcome::Failed), run("purge", 60, crate::JobOutcome::Ok)]);
}
