//! Restore at the store level, as properties: for a random history of
//! changes, a dump taken at one point plus the shipped entries replayed up to
//! a later point gives exactly the state the live store had there (same
//! digest), and the restored journal still verifies. The same holds across
//! backends: a SQLite installation's backup restores into PostgreSQL and
//! back with the same digests, and one history gives one digest on both.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use time::macros::datetime;
use valv_domain::{PersonName, RecordId};
use valv_store::contract::{tenant, user};
use valv_store::journal::verify;
use valv_store::{
    Actor, Chain, Change, CollectionRow, DumpItem, JournalEntry, Position, RecordRow, ReplayEntry, Row, Store,
    TenantRow, UserRow,
};

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

async fn open(backend: Backend, dir: &tempfile::TempDir, name: &str) -> Arc<dyn Store> {
    match backend {
        Backend::Sqlite => {
            Arc::new(valv_store_sqlite::SqliteStore::open(&dir.path().join(name)).await.expect("open sqlite"))
        }
        Backend::Postgres => {
            Arc::new(valv_store_postgres::PgStore::connect(&valv_testkit::postgres()).await.expect("connect"))
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// A new user in tenant `t % 2`.
    AddUser(usize),
    /// Rename user `u % n`.
    Rename(usize),
    /// Purge tenant `t % 2` (rows go, payloads blanked).
    Purge(usize),
    /// A record in tenant `t % 2` with field values of kind `k`.
    AddRecord(usize, u8),
    /// An event without rows on tenant `t % 2`'s chain.
    Event(usize),
    /// Erase user `u % n` (payloads blanked, a ledger row).
    Erase(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => any::<usize>().prop_map(Step::AddUser),
        4 => any::<usize>().prop_map(Step::Rename),
        1 => any::<usize>().prop_map(Step::Purge),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(t, k)| Step::AddRecord(t, k)),
        1 => any::<usize>().prop_map(Step::Event),
        1 => any::<usize>().prop_map(Step::Erase),
    ]
}

/// Field values that must come back byte for byte: floats, big and negative
/// numbers, escapes, a NUL, non-ASCII text, nesting.
fn data(i: usize, kind: u8) -> serde_json::Value {
    match kind % 4 {
        0 => {
            json!({ "name": format!("Åsa {i} 🎉"), "amount": 1.5 + i as f64, "big": 1e20, "max": u64::MAX, "neg": -0.0 })
        }
        1 => json!({ "z": { "b": [1, "two", null, true], "a": {} }, "a": "first key last" }),
        2 => json!({ "text": "line\nbreak \u{0} nul \"quoted\" \\ tab\t", "n": i }),
        _ => json!({}),
    }
}

/// The live installation's rows, as the steps change them.
struct World {
    tenants: Vec<TenantRow>,
    collections: Vec<CollectionRow>,
    users: Vec<UserRow>,
}

impl World {
    fn new() -> Self {
        let tenants = vec![tenant("restore-a"), tenant("restore-b")];
        let collections = tenants.iter().map(|t| valv_store::contract::collection(t.id, "notes")).collect();
        Self { tenants, collections, users: Vec::new() }
    }

    async fn create(&self, stores: &[&dyn Store]) {
        for s in stores {
            for (t, c) in self.tenants.iter().zip(&self.collections) {
                let change = Change::new(Chain::Provider, t.created_at, Actor::Cli, valv_store::Action::TenantCreated)
                    .about("tenant", t.id);
                s.commit(change.row(Row::Tenant(t.clone()))).await.expect("tenant");
                let change =
                    Change::new(Chain::Tenant(t.id), t.created_at, Actor::Cli, valv_store::Action::CollectionCreated);
                s.commit(change.about("collection", c.id).row(Row::Collection(c.clone()))).await.expect("collection");
            }
        }
    }

    fn live(&self, t: valv_domain::TenantId) -> bool {
        self.tenants.iter().any(|x| x.id == t && x.purged_at.is_none())
    }

    /// Applies one step to each of `stores` (the same change, same ids, on each).
    async fn apply(&mut self, stores: &[&dyn Store], step: &Step, i: usize) {
        let Some(op) = self.op(step, i) else { return };
        for s in stores {
            match op.clone() {
                Op::Commit(c) => drop(s.commit(c).await.expect("commit")),
                Op::Purge(t, c) => drop(s.purge_tenant(t, c).await.expect("purge")),
                Op::Erase(t, id, entities, c) => {
                    let ledger = json!({ "fields": ["name"] });
                    s.erase(t, &id, entities, Vec::new(), ledger, c).await.expect("erase");
                }
            }
        }
    }

    /// What one step writes, if anything.
    fn op(&mut self, step: &Step, i: usize) -> Option<Op> {
        let at = datetime!(2026-01-01 0:00 UTC) + time::Duration::seconds(i as i64) + time::Duration::microseconds(7);
        let n = self.users.len();
        Some(match *step {
            Step::AddUser(t) if self.tenants[t % 2].purged_at.is_none() => {
                let u = user(self.tenants[t % 2].id, &format!("u{i}@example.se"));
                let c = Change::new(Chain::Tenant(u.tenant_id), at, Actor::Cli, valv_store::Action::UserCreated)
                    .about("user", u.id);
                self.users.push(u.clone());
                Op::Commit(c.row(Row::User(u)))
            }
            Step::Rename(u) | Step::Erase(u) if n > 0 && self.live(self.users[u % n].tenant_id) => {
                let u = &mut self.users[u % n];
                u.name = PersonName::parse(&format!("Name {i}")).expect("name");
                let chain = Chain::Tenant(u.tenant_id);
                if matches!(step, Step::Erase(_)) {
                    let c =
                        Change::new(chain, at, Actor::System, valv_store::Action::SubjectErased).about("erasure", i);
                    let entities = vec![("user".to_owned(), u.id.to_string())];
                    Op::Erase(u.tenant_id, format!("erasure-{i}"), entities, c.row(Row::User(u.clone())))
                } else {
                    let c = Change::new(chain, at, Actor::Cli, valv_store::Action::UserUpdated).about("user", u.id);
                    Op::Commit(c.row(Row::User(u.clone())))
                }
            }
            Step::Purge(t) if self.tenants[t % 2].purged_at.is_none() => {
                let t = &mut self.tenants[t % 2];
                t.purged_at = Some(at);
                let c = Change::new(Chain::Provider, at, Actor::System, valv_store::Action::TenantPurged)
                    .about("tenant", t.id);
                Op::Purge(t.id, c.row(Row::Tenant(t.clone())))
            }
            Step::AddRecord(t, kind) if self.tenants[t % 2].purged_at.is_none() => {
                let c = &self.collections[t % 2];
                let r = RecordRow {
                    id: RecordId::new(),
                    tenant_id: c.tenant_id,
                    collection_id: c.id,
                    revision: 1,
                    data: data(i, kind),
                    deleted_at: (kind % 5 == 4).then_some(at),
                    created_at: at,
                    created_by: "cli".into(),
                    updated_at: at,
                    updated_by: "cli".into(),
                };
                let change = Change::new(Chain::Tenant(c.tenant_id), at, Actor::Cli, valv_store::Action::RecordCreated);
                Op::Commit(change.about("record", r.id).row(Row::Record(r)))
            }
            Step::Event(t) => {
                let c = Change::new(
                    Chain::Tenant(self.tenants[t % 2].id),
                    at,
                    Actor::Anonymous,
                    valv_store::Action::AuthSignInFailed,
                );
                Op::Commit(c.detail(json!({ "reason": "wrong password", "attempt": i })))
            }
            _ => return None,
        })
    }
}

/// A write of one step, applied alike to every store given the history.
#[derive(Clone)]
enum Op {
    Commit(Change),
    Purge(valv_domain::TenantId, Change),
    Erase(valv_domain::TenantId, String, Vec<(String, String)>, Change),
}

async fn dump(s: &dyn Store) -> (Vec<DumpItem>, Position) {
    let items = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&items);
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

async fn verify_chains(s: &dyn Store) {
    for (key, head) in s.chain_heads().await.expect("heads") {
        let entries = s.chain_page(&key, 0, u32::MAX).await.expect("entries");
        assert!(verify(&key, &entries, Some(&head)).is_ok(), "restored chain {key} verifies");
    }
}

/// Lives a history on `live`, restores a snapshot plus shipped entries into
/// `restored`, and compares their digests.
async fn restore(live: Backend, restored: Backend, steps: Vec<Step>, snapshot_at: usize, restore_at: usize) {
    // A replay cannot re-apply an erasure to entries shipped before it (the
    // service re-applies the ledger after a restore): these histories do not erase.
    let steps: Vec<Step> = steps.into_iter().map(|s| if let Step::Erase(u) = s { Step::Event(u) } else { s }).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, mut world) = (open(live, &dir, "live.db").await, World::new());
    world.create(&[&*s]).await;
    let mut shipped = s.journal_after(0, u32::MAX).await.expect("ship");
    let snapshot_at = snapshot_at % (steps.len() + 1);
    let restore_at = snapshot_at + restore_at % (steps.len() + 1 - snapshot_at);
    let (mut snapshot, mut target) = (None, None);
    for (i, step) in steps.iter().enumerate() {
        if i == snapshot_at {
            snapshot = Some(dump(&*s).await);
        }
        if i == restore_at {
            target = Some(s.state_digest().await.expect("digest"));
        }
        world.apply(&[&*s], step, i).await;
        // The shipper: every new entry leaves with its payload as it is now (a later purge blanks the live copy).
        let after = shipped.last().map_or(0, |e: &JournalEntry| e.seq);
        shipped.extend(s.journal_after(after, u32::MAX).await.expect("ship"));
    }
    let (items, base) = match snapshot {
        Some(snapshot) => snapshot,
        None => dump(&*s).await,
    };
    let target = match target {
        Some(t) => t,
        None => s.state_digest().await.expect("digest"),
    };
    let r = open(restored, &dir, "restored.db").await;
    r.load(items).await.expect("load");
    assert_eq!(r.state_digest().await.expect("digest"), base, "a loaded dump is the dumped state");
    let segment = shipped.into_iter().filter(|e| e.seq > base.seq && e.seq <= target.seq);
    r.replay(segment.map(|e| ReplayEntry::decode(e).expect("decode")).collect()).await.expect("replay");
    assert_eq!(
        r.state_digest().await.expect("digest"),
        target,
        "restored state = live state, {live:?} -> {restored:?}"
    );
    verify_chains(&*r).await;
}

/// Lives one history on both backends; their digests agree, and each one's
/// dump loads into the other with the same digest.
async fn same_history(steps: Vec<Step>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sqlite, pg) = (open(Backend::Sqlite, &dir, "a.db").await, open(Backend::Postgres, &dir, "").await);
    let mut world = World::new();
    world.create(&[&*sqlite, &*pg]).await;
    for (i, step) in steps.iter().enumerate() {
        world.apply(&[&*sqlite, &*pg], step, i).await;
    }
    let ((sqlite_items, sqlite_pos), (pg_items, pg_pos)) = (dump(&*sqlite).await, dump(&*pg).await);
    assert_eq!(sqlite_items, pg_items, "the same dump from both");
    assert_eq!(sqlite_pos, pg_pos, "the same position and digest from both");
    let into_pg = open(Backend::Postgres, &dir, "").await;
    into_pg.load(sqlite_items).await.expect("load into PostgreSQL");
    assert_eq!(into_pg.state_digest().await.expect("digest"), sqlite_pos, "SQLite dump in PostgreSQL");
    assert_eq!(into_pg.erasure_ledger().await.expect("ledger"), sqlite.erasure_ledger().await.expect("ledger"));
    let into_sqlite = open(Backend::Sqlite, &dir, "b.db").await;
    into_sqlite.load(pg_items).await.expect("load into SQLite");
    assert_eq!(into_sqlite.state_digest().await.expect("digest"), pg_pos, "PostgreSQL dump in SQLite");
    verify_chains(&*into_pg).await;
}

fn block_on(f: impl std::future::Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(f);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn the_state_restored_at_a_point_equals_the_live_state_there(
        steps in proptest::collection::vec(step(), 1..25),
        snapshot_at in any::<usize>(),
        restore_at in any::<usize>(),
    ) {
        block_on(restore(Backend::Postgres, Backend::Postgres, steps, snapshot_at, restore_at));
    }

    #[test]
    fn a_sqlite_backup_restores_into_postgres_at_the_sqlite_digest(
        steps in proptest::collection::vec(step(), 1..25),
        snapshot_at in any::<usize>(),
        restore_at in any::<usize>(),
    ) {
        block_on(restore(Backend::Sqlite, Backend::Postgres, steps, snapshot_at, restore_at));
    }

    #[test]
    fn a_postgres_backup_restores_into_sqlite_at_the_postgres_digest(
        steps in proptest::collection::vec(step(), 1..25),
        snapshot_at in any::<usize>(),
        restore_at in any::<usize>(),
    ) {
        block_on(restore(Backend::Postgres, Backend::Sqlite, steps, snapshot_at, restore_at));
    }

    #[test]
    fn one_history_gives_one_digest_on_both_backends(steps in proptest::collection::vec(step(), 1..30)) {
        block_on(same_history(steps));
    }
}

#[tokio::test]
async fn a_load_may_hold_a_user_before_its_tenant_but_not_without_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(Backend::Postgres, &dir, "").await;
    let t = tenant("load-order");
    let u = user(t.id, "first@example.se");
    s.load(vec![DumpItem::Row(Row::User(u.clone())), DumpItem::Row(Row::Tenant(t.clone()))])
        .await
        .expect("foreign keys are checked at commit");
    assert_eq!(s.user(t.id, u.id).await.expect("read"), Some(u));

    let orphan = user(valv_domain::TenantId::new(), "orphan@example.se");
    let other = tenant("load-orphan");
    let err = s.load(vec![DumpItem::Row(Row::Tenant(other.clone())), DumpItem::Row(Row::User(orphan))]).await;
    assert!(err.is_err(), "a user whose tenant never comes is refused at commit");
    assert_eq!(s.tenant(other.id).await.expect("read"), None, "nothing of a refused load is written");
}
