//! Restore at the store level, as properties (the contract suite's
//! `history` module) on PostgreSQL: the state restored at a point is the
//! live state there, and the same holds across backends — a SQLite
//! installation's backup restores into PostgreSQL and back with the same
//! digests, and one history gives one digest on both.

use std::sync::Arc;

use proptest::prelude::*;
use valv_store::contract::history::{self, Step};
use valv_store::contract::{tenant, user};
use valv_store::{DumpItem, Row, Store};

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

async fn open(backend: Backend, dir: &tempfile::TempDir, name: &str) -> Arc<dyn Store> {
    match backend {
        Backend::Sqlite => Arc::new(valv_store::contract::sealed(
            valv_store_sqlite::SqliteStore::open(&dir.path().join(name)).await.expect("open sqlite"),
        )),
        Backend::Postgres => Arc::new(valv_store::contract::sealed(
            valv_store_postgres::PgStore::connect(&valv_testkit::postgres()).await.expect("connect"),
        )),
    }
}

fn block_on(f: impl std::future::Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(f);
}

/// Lives a history on a `live` store and restores it into a `restored` one
/// (the suite's property), each of the backend named.
async fn restore(live: Backend, restored: Backend, steps: Vec<Step>, snapshot_at: usize, restore_at: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, r) = (open(live, &dir, "live.db").await, open(restored, &dir, "restored.db").await);
    history::restored_state_equals_live_state(&*s, &*r, steps, (snapshot_at, restore_at), 64).await;
}

/// Lives one history on both backends (the suite's property).
async fn same_history(steps: Vec<Step>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sqlite, pg) = (open(Backend::Sqlite, &dir, "a.db").await, open(Backend::Postgres, &dir, "").await);
    let (into_sqlite, into_pg) = (open(Backend::Sqlite, &dir, "b.db").await, open(Backend::Postgres, &dir, "").await);
    history::one_history_gives_one_digest((&*sqlite, &*pg), (&*into_sqlite, &*into_pg), &steps).await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn the_state_restored_at_a_point_equals_the_live_state_there(
        steps in proptest::collection::vec(history::step(), 1..25),
        snapshot_at in any::<usize>(),
        restore_at in any::<usize>(),
    ) {
        block_on(restore(Backend::Postgres, Backend::Postgres, steps, snapshot_at, restore_at));
    }

    #[test]
    fn a_sqlite_backup_restores_into_postgres_at_the_sqlite_digest(
        steps in proptest::collection::vec(history::step(), 1..25),
        snapshot_at in any::<usize>(),
        restore_at in any::<usize>(),
    ) {
        block_on(restore(Backend::Sqlite, Backend::Postgres, steps, snapshot_at, restore_at));
    }

    #[test]
    fn a_postgres_backup_restores_into_sqlite_at_the_postgres_digest(
        steps in proptest::collection::vec(history::step(), 1..25),
        snapshot_at in any::<usize>(),
        restore_at in any::<usize>(),
    ) {
        block_on(restore(Backend::Postgres, Backend::Sqlite, steps, snapshot_at, restore_at));
    }

    #[test]
    fn one_history_gives_one_digest_on_both_backends(steps in proptest::collection::vec(history::step(), 1..30)) {
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
