//! Every table, walked: each journaled one is dumped and restored into a
//! fresh store with the same digest, and each of a tenant's tables is
//! emptied of that tenant's rows by its purge while another tenant's stay.
//! Adding a table to [`Table`] without teaching the backends fails here.

use std::collections::BTreeSet;

use valv_domain::{Email, OperatorId, PersonName, RecordId, TenantId, UserId, UserStatus};

use super::{T0, collection, file, put, request, session, tenant, token, user, version};
use crate::{
    Action, Chain, Change, DumpItem, OperatorRow, Owner, Principal, RecordRow, Row, SessionRow, Store, StoreResult,
    Table,
};

/// One row in every journaled table of tenant `t`.
fn rows_of(t: TenantId) -> Vec<Row> {
    let u = user(t, &format!("{t}@example.se"));
    let c = collection(t, "contacts");
    let f = file(t, "/contracts", "deal.pdf");
    vec![
        Row::User(u.clone()),
        Row::Token(token(&u)),
        Row::Collection(c.clone()),
        Row::Record(RecordRow {
            id: RecordId::new(),
            tenant_id: t,
            collection_id: c.id,
            revision: 1,
            data: serde_json::json!({ "name": "Åsa" }),
            deleted_at: None,
            created_at: T0,
            created_by: "cli".into(),
            updated_at: T0,
            updated_by: "cli".into(),
        }),
        Row::File(f.clone()),
        Row::FileVersion(version(&f, 1, &["chunk"])),
        Row::Request(request(t, &format!("request-{t}"))),
    ]
}

/// A session of a new user of `tenant`.
fn user_session(tenant: TenantId) -> SessionRow {
    session(&format!("session-{tenant}"), Principal::User { tenant, user: UserId::new() })
}

async fn dump(s: &dyn Store) -> StoreResult<Vec<DumpItem>> {
    let (tx, rx) = std::sync::mpsc::channel();
    s.dump(Box::new(move |item| {
        let _ = tx.send(item);
        Ok(())
    }))
    .await?;
    Ok(rx.try_iter().collect())
}

/// Tables of the dumped rows of `tenant` (`None`: the provider's).
fn tables_of(items: &[DumpItem], tenant: Option<TenantId>) -> BTreeSet<Table> {
    items
        .iter()
        .filter_map(|i| match i {
            DumpItem::Row(r) if r.tenant() == tenant => Some(r.table()),
            _ => None,
        })
        .collect()
}

/// Writes a tenant with one row in each of its tables; returns the tenant.
async fn populate(s: &dyn Store, slug: &str) -> TenantId {
    let t = tenant(slug);
    s.commit(put(Chain::Provider, Action::TenantCreated, Row::Tenant(t.clone()))).await.expect("tenant");
    for row in rows_of(t.id) {
        s.commit(put(Chain::Tenant(t.id), Action::RecordUpdated, row)).await.expect("row");
    }
    s.put_session(user_session(t.id)).await.expect("session");
    t.id
}

/// Every table is dumped, restored into `fresh` with the same digest, and
/// purged of one tenant's rows, on the backend under test.
///
/// # Panics
/// When the backend breaks the contract.
pub async fn every_table_is_dumped_restored_and_purged(s: &dyn Store, fresh: &dyn Store) {
    s.seal_with(super::vault());
    fresh.seal_with(super::vault());
    let (gone, kept) = (populate(s, "walk-gone").await, populate(s, "walk-kept").await);
    let operator = OperatorRow {
        id: OperatorId::new(),
        name: PersonName::parse("Olle Operator").expect("name"),
        email: Email::parse("walk-ops@example.se").expect("email"),
        status: UserStatus::Active,
        password_hash: "phc".into(),
        created_at: T0,
        totp: None,
    };
    s.commit(put(Chain::Provider, Action::OperatorCreated, Row::Operator(operator))).await.expect("operator");

    let items = dump(s).await.expect("dump");
    let journaled: BTreeSet<Table> = Table::dumped().map(|(t, _)| t).collect();
    let mut seen = tables_of(&items, Some(gone));
    seen.extend(tables_of(&items, None));
    assert_eq!(seen, journaled, "the dump holds every journaled table");

    fresh.load(items.clone()).await.expect("load");
    let (before, after) = (s.state_digest().await.expect("digest"), fresh.state_digest().await.expect("digest"));
    assert_eq!(before, after, "the restored store has the same state");
    assert_eq!(dump(fresh).await.expect("dump"), items, "and dumps the same items");

    let mut row = tenant("walk-gone");
    row.id = gone;
    let change = Change::new(Chain::Provider, T0, crate::Actor::Cli, Action::TenantPurged).about("tenant", gone);
    let counts = s.purge_tenant(gone, change.row(Row::Tenant(row))).await.expect("purge");
    for table in Table::ALL.into_iter().filter(|t| t.owner() == Owner::Tenant) {
        let n = counts.iter().find(|(name, _)| name == table.name()).map(|(_, n)| *n);
        assert_eq!(n, Some(1), "the purge deleted the tenant's row of {}", table.name());
    }
    let items = dump(s).await.expect("dump after the purge");
    assert!(tables_of(&items, Some(gone)).is_empty(), "no row of the purged tenant is left");
    assert_eq!(tables_of(&items, Some(kept)).len(), journaled.len() - 2, "the other tenant keeps all of its rows");
    assert!(s.session(&user_session(gone).id).await.expect("session").is_none(), "its sessions end");
    assert!(s.session(&user_session(kept).id).await.expect("session").is_some(), "the other tenant's stay");
    assert!(s.requests(gone).await.expect("requests").is_empty(), "its data-subject requests are gone");
}
