//! The contract of AccountStore: tenants, operators, users and tokens, each read as written and never across tenants.

use super::*;

/// Runs this aggregate's contract tests.
pub(super) async fn run(s: &dyn Store) {
    accounts_are_found_by_id_slug_and_e_mail(s).await;
    tenants_never_see_each_others_users(s).await;
    a_change_expecting_a_row_read_earlier_is_refused_once_it_changed(s).await;
}

/// Review S2: a compare-and-set on whole rows. A change made from a row read
/// earlier is refused, with nothing written, once another change updated it.
async fn a_change_expecting_a_row_read_earlier_is_refused_once_it_changed(s: &dyn Store) {
    let t = tenant("contract-cas");
    s.commit(put(Chain::Provider, Action::TenantCreated, Row::Tenant(t.clone()))).await.expect("tenant");
    let read = user(t.id, "cas@example.se");
    s.commit(put(Chain::Tenant(t.id), Action::UserCreated, Row::User(read.clone()))).await.expect("user");
    let mut blocked = read.clone();
    blocked.status = valv_domain::UserStatus::Blocked;
    s.commit(put(Chain::Tenant(t.id), Action::UserBlocked, Row::User(blocked.clone()))).await.expect("block");
    let before = s.journal_seq().await.expect("seq");
    let mut rehashed = read.clone();
    rehashed.password_hash = Some("new".into());
    let stale = put(Chain::Tenant(t.id), Action::UserUpdated, Row::User(rehashed.clone())).expecting(Row::User(read));
    assert!(matches!(s.commit(stale).await, Err(StoreError::Stale("users"))), "refused");
    assert_eq!(s.user(t.id, blocked.id).await.expect("read"), Some(blocked.clone()), "the block stays");
    assert_eq!(s.journal_seq().await.expect("seq"), before, "and nothing was journaled");
    rehashed.status = valv_domain::UserStatus::Blocked;
    let fresh =
        put(Chain::Tenant(t.id), Action::UserUpdated, Row::User(rehashed.clone())).expecting(Row::User(blocked));
    s.commit(fresh).await.expect("made from the row as it is");
    assert_eq!(s.user(t.id, rehashed.id).await.expect("read"), Some(rehashed));
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

async fn accounts_are_found_by_id_slug_and_e_mail(s: &dyn Store) {
    let t = committed_tenant(s, "contract-accounts").await;
    assert!(s.tenants().await.expect("tenants").contains(&t));
    let u = user(t.id, "Found@Example.se");
    s.commit(put(Chain::Tenant(t.id), Action::UserCreated, Row::User(u.clone()))).await.expect("user");
    let email = |e: &str| Email::parse(e).expect("email");
    assert_eq!(s.user_by_email(t.id, &email("found@example.se")).await.expect("read"), Some(u.clone()), "normalised");
    let other = committed_tenant(s, "contract-accounts-other").await;
    assert_eq!(s.user_by_email(other.id, &email("found@example.se")).await.expect("read"), None, "per tenant");

    let count = s.operator_count().await.expect("count");
    let op = crate::OperatorRow {
        id: valv_domain::OperatorId::new(),
        name: PersonName::parse("Olle Operator").expect("name"),
        email: email("Olle@Provider.se"),
        status: UserStatus::Active,
        password_hash: "phc".into(),
        created_at: T0,
        totp: None,
    };
    s.commit(put(Chain::Provider, Action::OperatorCreated, Row::Operator(op.clone()))).await.expect("operator");
    assert_eq!(s.operator_count().await.expect("count"), count + 1);
    assert_eq!(s.operator(op.id).await.expect("read"), Some(op.clone()));
    assert_eq!(s.operator_by_email(&email("olle@provider.se")).await.expect("read"), Some(op));

    let k = token(&u);
    s.commit(put(Chain::Tenant(t.id), Action::TokenCreated, Row::Token(k.clone()))).await.expect("token");
    assert_eq!(s.token(k.id).await.expect("read"), Some(k.clone()));
    assert_eq!(s.tokens(t.id, u.id).await.expect("list"), vec![k]);
    assert!(s.tokens(other.id, u.id).await.expect("list").is_empty(), "per tenant");
}
