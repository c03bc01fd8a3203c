//! The contract of JournalStore: one transaction per change or per source, a verifiable chain, filters and pages.

use super::*;

/// Runs this aggregate's contract tests.
pub(super) async fn run(s: &dyn Store) {
    changes_commit_together_in_order_or_not_at_all(s).await;
    changes_write_rows_and_a_verifiable_journal(s).await;
    refused_change_writes_nothing(s).await;
    journal_filters_and_pages(s).await;
    chains_read_in_pages_and_histories_in_bulk(s).await;
    changes_from_a_source_commit_whole_or_not_at_all(s).await;
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

async fn changes_commit_together_in_order_or_not_at_all(s: &dyn Store) {
    let t = tenant("contract-together");
    let u = user(t.id, "together@example.se");
    let about = |action| Change::new(Chain::Tenant(t.id), T0, Actor::Cli, action).about("user", u.id);
    let entries = s
        .commit_all(vec![
            put(Chain::Provider, Action::TenantCreated, Row::Tenant(t.clone())),
            about(Action::UserCreated).row(Row::User(u.clone())),
            about(Action::UserUpdated).row(Row::User(u.clone())),
        ])
        .await
        .expect("commit");
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (seqs[0]..seqs[0] + 3).collect::<Vec<_>>(), "one entry each, in order");
    assert_eq!((entries[1].chain_seq, entries[2].chain_seq), (1, 2), "the tenant's chain starts");
    let keys = s.chain_keys().await.expect("keys");
    assert!(keys.contains(&t.id.to_string()) && keys.contains(&"provider".to_owned()), "{keys:?}");
    let history: Vec<String> =
        s.history(t.id, "user", &u.id.to_string()).await.expect("history").into_iter().map(|e| e.action).collect();
    assert_eq!(history, ["user.created", "user.updated"], "oldest first");
    let other = tenant("contract-together-other");
    assert!(s.history(other.id, "user", &u.id.to_string()).await.expect("history").is_empty(), "per tenant");

    let (a, b) = (user(t.id, "twice@example.se"), user(t.id, "TWICE@example.se"));
    let refused = s
        .commit_all(vec![
            about(Action::UserCreated).row(Row::User(a.clone())),
            about(Action::UserCreated).row(Row::User(b)),
        ])
        .await;
    assert!(matches!(refused, Err(StoreError::Conflict(Constraint::UsersTenantEmail))), "{refused:?}");
    assert_eq!(s.user(t.id, a.id).await.expect("read"), None, "the first change of a refused commit is not written");
}
