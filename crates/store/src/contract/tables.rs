//! Every table, walked: each journaled one is dumped and restored into a
//! fresh store with the same digest, and each of a tenant's tables is
//! emptied of that tenant's rows by its purge while another tenant's stay.
//! Adding a table to [`Table`] without teaching the backends fails here.

use std::collections::BTreeSet;

use valv_domain::files::{FileName, Folder};
use valv_domain::{
    Email, FileId, OperatorId, PersonName, RecordId, RequestDeadline, TenantId, TokenId, UserId, UserStatus,
};

use super::{T0, collection, put, tenant, user};
use crate::{
    Action, Chain, Change, DumpItem, FileRow, FileVersionRow, OperatorRow, Owner, Principal, RecordRow, RequestRow,
    Row, SessionRow, Store, StoreResult, StoredChunk, Table, TokenRow,
};

/// One row in every journaled table of tenant `t`.
fn rows_of(t: TenantId) -> Vec<Row> {
    let u = user(t, &format!("{t}@example.se"));
    let c = collection(t, "contacts");
    let file = FileId::new();
    vec![
        Row::User(u.clone()),
        Row::Token(TokenRow {
            id: TokenId::new(),
            tenant_id: t,
            user_id: u.id,
            name: "script".into(),
            role: u.role,
            secret_digest: "digest".into(),
            created_at: T0,
            expires_at: T0,
            revoked_at: None,
        }),
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
        Row::File(FileRow {
            id: file,
            tenant_id: t,
            folder: Folder::parse("/contracts").expect("folder"),
            name: FileName::parse("deal.pdf").expect("name"),
            current_version: 1,
            created_at: T0,
            created_by: "cli".into(),
            deleted_at: None,
        }),
        Row::FileVersion(FileVersionRow {
            file_id: file,
            tenant_id: t,
            version: 1,
            size: 3,
            sha256: "00".into(),
            media_type: "application/pdf".into(),
            chunks: vec![StoredChunk { id: "chunk".into(), len: 3 }],
            uploaded_by: "cli".into(),
            uploaded_at: T0,
            scan: "not scanned".into(),
        }),
        Row::Request(RequestRow {
            id: format!("request-{t}"),
            tenant_id: t,
            kind: "access".into(),
            email: "subject@example.se".into(),
            message: "every record about me".into(),
            deadline: RequestDeadline::new(T0),
            extension_reason: None,
            verification_digest: None,
            verified_at: Some(T0),
            status: "answered".into(),
            answered_at: Some(T0),
            response: Some(serde_json::json!({ "records": ["the whole extract"] })),
        }),
    ]
}

fn session(tenant: TenantId) -> SessionRow {
    SessionRow {
        id: format!("session-{tenant}"),
        secret_digest: "d".into(),
        principal: Principal::User { tenant, user: UserId::new() },
        complete: true,
        created_at: T0,
        expires_at: T0,
        code_digest: None,
        code_expires_at: None,
        code_failures: 0,
    }
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
    s.put_session(session(t.id)).await.expect("session");
    t.id
}

/// Every table is dumped, restored into `fresh` with the same digest, and
/// purged of one tenant's rows, on the backend under test.
///
/// # Panics
/// When the backend breaks the contract.
pub async fn every_table_is_dumped_restored_and_purged(s: &dyn Store, fresh: &dyn Store) {
    let (gone, kept) = (populate(s, "walk-gone").await, populate(s, "walk-kept").await);
    let operator = OperatorRow {
        id: OperatorId::new(),
        name: PersonName::parse("Olle Operator").expect("name"),
        email: Email::parse("walk-ops@example.se").expect("email"),
        status: UserStatus::Active,
        password_hash: "phc".into(),
        created_at: T0,
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
    assert!(s.session(&session(gone).id).await.expect("session").is_none(), "its sessions end");
    assert!(s.session(&session(kept).id).await.expect("session").is_some(), "the other tenant's stay");
    assert!(s.requests(gone).await.expect("requests").is_empty(), "its data-subject requests are gone");
}
