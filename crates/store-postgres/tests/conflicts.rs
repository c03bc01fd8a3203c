//! Refused writes name the same constraint on both backends, so the service
//! maps them to the same answers, and write nothing.

use std::sync::Arc;

use time::macros::datetime;
use valv_domain::files::{FileName, Folder};
use valv_domain::{CollectionId, Email, FileId, OperatorId, PersonName, UserStatus};
use valv_store::contract::{tenant, user};
use valv_store::journal::next_entry;
use valv_store::{
    Actor, Chain, ChainHead, Change, CollectionRow, DumpItem, EntryImage, FileRow, FileVersionRow, OperatorRow,
    ReplayEntry, Row, Store, StoreError,
};

const T0: time::OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

fn put(chain: Chain, row: Row) -> Change {
    Change::new(chain, T0, Actor::Cli, valv_store::Action::RecordUpdated).about("test", "x").row(row)
}

fn operator(email: &str) -> OperatorRow {
    OperatorRow {
        id: OperatorId::new(),
        name: PersonName::parse("Olle Operator").expect("name"),
        email: Email::parse(email).expect("email"),
        status: UserStatus::Active,
        password_hash: "$argon2id$x".into(),
        created_at: T0,
        totp: None,
    }
}

fn file(t: valv_domain::TenantId, name: &str) -> FileRow {
    FileRow {
        id: FileId::new(),
        tenant_id: t,
        folder: Folder::parse("/docs").expect("folder"),
        name: FileName::parse(name).expect("name"),
        current_version: 1,
        created_at: T0,
        created_by: "cli".into(),
        deleted_at: None,
    }
}

fn version(f: &FileRow) -> FileVersionRow {
    FileVersionRow {
        file_id: f.id,
        tenant_id: f.tenant_id,
        version: 1,
        size: 3,
        sha256: "00".into(),
        media_type: "text/plain".into(),
        chunks: Vec::new(),
        uploaded_by: "cli".into(),
        uploaded_at: T0,
        scan: "not scanned".into(),
    }
}

/// Runs every refused write against `s`, returning the error of each, by case.
async fn refusals(s: &dyn Store) -> Vec<(&'static str, String)> {
    s.seal_with(valv_store::contract::vault());
    let t = tenant("conflicts");
    let chain = Chain::Tenant(t.id);
    s.commit(put(Chain::Provider, Row::Tenant(t.clone()))).await.expect("tenant");
    let collection = valv_store::contract::collection(t.id, "notes");
    let f = file(t.id, "a.txt");
    let first = user(t.id, "taken@example.se");
    let setup = vec![
        put(Chain::Provider, Row::Operator(operator("ops@example.se"))),
        put(chain, Row::Collection(collection.clone())),
        put(chain, Row::File(f.clone())),
        put(chain, Row::FileVersion(version(&f))),
        put(chain, Row::User(first.clone())),
    ];
    s.commit_all(setup).await.expect("setup");
    let mut deleted = file(t.id, "a.txt");
    deleted.deleted_at = Some(T0);
    let mut moved = first.clone();
    moved.tenant_id = tenant("elsewhere").id;
    let replayed = moved.clone();
    let cases: Vec<(&'static str, Change)> = vec![
        ("slug", put(Chain::Provider, Row::Tenant(same_slug(&t)))),
        ("operator e-mail", put(Chain::Provider, Row::Operator(operator("OPS@example.se")))),
        ("collection name", put(chain, Row::Collection(CollectionRow { id: CollectionId::new(), ..collection }))),
        ("live file path", put(chain, Row::File(file(t.id, "a.txt")))),
        ("file version", put(chain, Row::FileVersion(version(&f)))),
        ("user e-mail", put(chain, Row::User(user(t.id, "Taken@example.se")))),
        ("row to another tenant", put(chain, Row::User(moved))),
    ];
    let mut out = Vec::new();
    for (case, change) in cases {
        let before = s.journal_seq().await.expect("seq");
        let err = s.commit(change).await.expect_err(case);
        assert_eq!(s.journal_seq().await.expect("seq"), before, "{case}: no entry written");
        out.push((case, err.to_string()));
    }
    // A deleted file leaves its path to a new one.
    s.commit(put(chain, Row::File(deleted))).await.expect("a deleted file beside a live one");
    // A journal entry taking a chain position already held.
    let mut entry = EntryImage::from(s.chain_page(&t.id.to_string(), 0, 1).await.expect("page").remove(0));
    entry.seq = s.journal_seq().await.expect("seq") + 1;
    let err = s.load(vec![DumpItem::Entry(entry)]).await.expect_err("chain position");
    out.push(("chain position", err.to_string()));
    // A replayed run of rows (restores write them in one statement), the
    // second of which would move a user to another tenant: none is written.
    let head = s.chain_heads().await.expect("heads").into_iter().find(|(k, _)| *k == chain.key()).map(|(_, h)| h);
    let seq = s.journal_seq().await.expect("seq");
    let fresh = user(t.id, "run@example.se");
    let a = next_entry(&put(chain, Row::User(fresh.clone())), head.as_ref(), seq + 1);
    let after_a = ChainHead { chain_seq: a.chain_seq, hash: a.hash.clone() };
    let b = next_entry(&put(chain, Row::User(replayed)), Some(&after_a), seq + 2);
    let decoded = [a, b].map(|e| ReplayEntry::decode(e).expect("decode"));
    let err = s.replay(decoded.into()).await.expect_err("replayed row to another tenant");
    assert_eq!(s.journal_seq().await.expect("seq"), seq, "replay: no entry written");
    assert_eq!(s.user(t.id, fresh.id).await.expect("read"), None, "replay: no row written");
    out.push(("replayed row to another tenant", err.to_string()));
    out
}

/// A second tenant with `t`'s slug.
fn same_slug(t: &valv_store::TenantRow) -> valv_store::TenantRow {
    let mut other = tenant("conflicts-other");
    other.slug = t.slug.clone();
    other
}

#[tokio::test]
async fn refused_writes_name_the_same_constraints_as_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite: Arc<dyn Store> = Arc::new(valv_store::contract::sealed(
        valv_store_sqlite::SqliteStore::open(&dir.path().join("c.db")).await.expect("sqlite"),
    ));
    let pg: Arc<dyn Store> = Arc::new(valv_store::contract::sealed(
        valv_store_postgres::PgStore::connect(&valv_testkit::postgres()).await.expect("postgres"),
    ));
    let (want, got) = (refusals(&*sqlite).await, refusals(&*pg).await);
    assert_eq!(got, want, "PostgreSQL refuses as SQLite does");
    use valv_store::Constraint as C;
    let names = [
        C::TenantsSlug,
        C::OperatorsEmail,
        C::CollectionsTenantName,
        C::FilesTenantPath,
        C::FileVersionsKey,
        C::UsersTenantEmail,
        C::RowOwnerMismatch,
        C::JournalChainSeq,
        C::RowOwnerMismatch,
    ];
    for ((case, err), name) in got.iter().zip(names) {
        assert_eq!(err, &StoreError::Conflict(name).to_string(), "{case}");
    }
}
