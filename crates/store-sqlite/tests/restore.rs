//! Restore at the store level, as a property: for a random history of
//! changes, a dump taken at one point plus the shipped entries replayed up to
//! a later point gives exactly the state the live store had there (same
//! digest), the restored journal still verifies, and the restore's database
//! (written unsynced, flushed at the end) reopens as an ordinary one.

use proptest::prelude::*;
use valv_store::contract::{tenant, user};
use valv_store::journal::verify;
use valv_store::prelude::*;
use valv_store::{Actor, Chain, Change, DumpItem, Position, ReplayEntry, Row, TenantRow, UserRow};
use valv_store_sqlite::SqliteStore;

#[derive(Debug, Clone)]
enum Step {
    /// A new user in tenant `t % 2`.
    AddUser(usize),
    /// Rename user `u % n`.
    Rename(usize),
    /// Purge tenant `t % 2` (rows go, payloads blanked).
    Purge(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => any::<usize>().prop_map(Step::AddUser),
        4 => any::<usize>().prop_map(Step::Rename),
        1 => any::<usize>().prop_map(Step::Purge),
    ]
}

async fn open(dir: &tempfile::TempDir, name: &str) -> SqliteStore {
    SqliteStore::open(&dir.path().join(name)).await.expect("open")
}

/// Applies one step to the live store.
async fn apply(s: &SqliteStore, tenants: &mut [TenantRow], users: &mut Vec<UserRow>, step: &Step, i: usize) {
    let at = time::macros::datetime!(2026-01-01 0:00 UTC) + time::Duration::seconds(i as i64);
    match *step {
        Step::AddUser(t) => {
            let t = &tenants[t % tenants.len()];
            if t.purged_at.is_some() {
                return;
            }
            let u = user(t.id, &format!("u{i}@example.se"));
            let c =
                Change::new(Chain::Tenant(t.id), at, Actor::Cli, valv_store::Action::UserCreated).about("user", u.id);
            s.commit(c.row(Row::User(u.clone()))).await.expect("user");
            users.push(u);
        }
        Step::Rename(u) if !users.is_empty() => {
            let n = users.len();
            let u = &mut users[u % n];
            if tenants.iter().any(|t| t.id == u.tenant_id && t.purged_at.is_some()) {
                return;
            }
            u.name = valv_domain::PersonName::parse(&format!("Name {i}")).expect("name");
            let c = Change::new(Chain::Tenant(u.tenant_id), at, Actor::Cli, valv_store::Action::UserUpdated)
                .about("user", u.id);
            s.commit(c.row(Row::User(u.clone()))).await.expect("rename");
        }
        Step::Purge(t) => {
            let n = tenants.len();
            let t = &mut tenants[t % n];
            if t.purged_at.is_some() {
                return;
            }
            t.purged_at = Some(at);
            let c =
                Change::new(Chain::Provider, at, Actor::System, valv_store::Action::TenantPurged).about("tenant", t.id);
            s.purge_tenant(t.id, c.row(Row::Tenant(t.clone()))).await.expect("purge");
        }
        Step::Rename(_) => {}
    }
}

async fn dump(s: &SqliteStore) -> (Vec<DumpItem>, Position) {
    let items = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&items);
    let pos = s
        .dump(Box::new(move |item| {
            sink.lock().expect("lock").push(item);
            Ok(())
        }))
        .await
        .expect("dump");
    let items = std::mem::take(&mut *items.lock().expect("lock"));
    (items, pos)
}

async fn run(steps: Vec<Step>, snapshot_at: usize, restore_at: usize, batch_size: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = open(&dir, "live.db").await;
    let mut tenants = vec![tenant("restore-a"), tenant("restore-b")];
    for t in &tenants {
        let c = Change::new(Chain::Provider, t.created_at, Actor::Cli, valv_store::Action::TenantCreated)
            .about("tenant", t.id);
        live.commit(c.row(Row::Tenant(t.clone()))).await.expect("tenant");
    }
    let mut users = Vec::new();
    let mut shipped = live.journal_after(0, u32::MAX).await.expect("ship");
    let snapshot_at = snapshot_at % (steps.len() + 1);
    let restore_at = snapshot_at + restore_at % (steps.len() + 1 - snapshot_at);
    let (mut snapshot, mut target) = (None, None);
    for (i, s) in steps.iter().enumerate() {
        if i == snapshot_at {
            snapshot = Some(dump(&live).await);
        }
        if i == restore_at {
            target = Some(live.state_digest().await.expect("digest"));
        }
        apply(&live, &mut tenants, &mut users, s, i).await;
        // The shipper: every new entry leaves with its payload as it is now (a later purge blanks the live copy).
        let after = shipped.last().map_or(0, |e: &valv_store::JournalEntry| e.seq);
        shipped.extend(live.journal_after(after, u32::MAX).await.expect("ship"));
    }
    let (items, base) = match snapshot {
        Some(s) => s,
        None => dump(&live).await,
    };
    let target = match target {
        Some(t) => t,
        None => live.state_digest().await.expect("digest"),
    };
    // As `valv restore` does: a new database written unsynced, flushed at the end.
    let restored = SqliteStore::open_unsynced(&dir.path().join("restored.db")).await.expect("open");
    restored.load(items).await.expect("load");
    assert_eq!(restored.state_digest().await.expect("digest"), base, "a loaded dump is the dumped state");
    let segment = shipped.into_iter().filter(|e| e.seq > base.seq && e.seq <= target.seq);
    let entries: Vec<ReplayEntry> = segment.map(|e| ReplayEntry::decode(e).expect("decode")).collect();
    // Fed in small batches, as a restore sends them while it parses: the
    // writer applies them back to back, joining those that wait.
    let (batches, queue) = tokio::sync::mpsc::channel(2);
    let feeding = async move {
        for batch in entries.chunks(batch_size) {
            batches.send(batch.to_vec()).await.expect("send");
        }
    };
    let ((), replayed) = tokio::join!(feeding, restored.replay_all(queue));
    replayed.expect("replay");
    assert_eq!(restored.state_digest().await.expect("digest").seq, target.seq);
    assert_eq!(restored.state_digest().await.expect("digest").digest, target.digest, "restored state = live state");
    for (key, head) in restored.chain_heads().await.expect("heads") {
        let entries = restored.chain_page(&key, 0, u32::MAX).await.expect("entries");
        assert!(verify(&key, &entries, Some(&head)).is_ok(), "restored chain {key} verifies");
    }
    restored.flush().await.expect("flush");
    drop(restored);
    assert!(SqliteStore::open_unsynced(&dir.path().join("restored.db")).await.is_err(), "only into a new file");
    let reopened = open(&dir, "restored.db").await;
    assert_eq!(reopened.state_digest().await.expect("digest").digest, target.digest, "the flushed file holds it all");
    assert!(dir.path().join("restored.db-wal").exists(), "an ordinary database (WAL) after the flush");
    assert_eq!(indexes(&dir, "restored.db"), indexes(&dir, "live.db"), "the indexes built at the flush are all there");
}

/// Every index of a database file, with its definition.
fn indexes(dir: &tempfile::TempDir, name: &str) -> Vec<(String, Option<String>)> {
    let c = rusqlite::Connection::open(dir.path().join(name)).expect("open");
    let mut q = c.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' ORDER BY name").expect("prepare");
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("query").collect::<Result<_, _>>().expect("rows")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_state_restored_at_a_point_equals_the_live_state_there(
        steps in proptest::collection::vec(step(), 1..25),
        snapshot_at in any::<usize>(),
        restore_at in any::<usize>(),
        batch_size in 1usize..8,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(run(steps, snapshot_at, restore_at, batch_size));
    }
}

/// A field index asked for while a database is being restored (the erasure
/// re-application asks for every collection's) is built at the flush with the
/// deferred ones; once flushed, the database builds one at once. The new
/// database has 16 KiB pages.
#[tokio::test]
async fn field_indexes_asked_for_during_a_restore_are_built_at_the_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let restored = SqliteStore::open_unsynced(&dir.path().join("restored.db")).await.expect("open");
    let collection = valv_domain::CollectionId::new();
    restored.index_fields(collection, vec![("email".into(), true)]).await.expect("index");
    let named = |suffix: &str| indexes(&dir, "restored.db").iter().any(|(n, _)| n.ends_with(suffix));
    assert!(!named("_email_ci"), "not built while rows are still coming");
    restored.flush().await.expect("flush");
    assert!(named("_email_ci"), "built at the flush");
    restored.index_fields(collection, vec![("phone".into(), false)]).await.expect("index");
    assert!(named("_phone"), "after the flush, built at once");
    let c = rusqlite::Connection::open(dir.path().join("restored.db")).expect("open");
    assert_eq!(c.query_row("PRAGMA page_size", [], |r| r.get::<_, u32>(0)).expect("page size"), 16384);
}
