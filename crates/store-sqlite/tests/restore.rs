//! Restore at the store level, as a property (the contract suite's `history`
//! module) on SQLite: the state restored at a point is the live state there,
//! and the restore's database (written unsynced, flushed at the end) reopens
//! as an ordinary one with every index.

use proptest::prelude::*;
use valv_store::contract::history::{self, Step};
use valv_store::prelude::*;
use valv_store_sqlite::SqliteStore;

async fn open(dir: &tempfile::TempDir, name: &str) -> SqliteStore {
    valv_store::contract::sealed(SqliteStore::open(&dir.path().join(name)).await.expect("open"))
}

async fn run(steps: Vec<Step>, points: (usize, usize), batch_size: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = open(&dir, "live.db").await;
    // As `valv restore` does: a new database written unsynced, flushed at the end.
    let restored =
        valv_store::contract::sealed(SqliteStore::open_unsynced(&dir.path().join("restored.db")).await.expect("open"));
    let target = history::restored_state_equals_live_state(&live, &restored, steps, points, batch_size).await;
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
        steps in proptest::collection::vec(history::step(), 1..25),
        snapshot_at in any::<usize>(),
        restore_at in any::<usize>(),
        batch_size in 1usize..8,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(run(steps, (snapshot_at, restore_at), batch_size));
    }
}

/// A field index asked for while a database is being restored (the erasure
/// re-application asks for every collection's) is built at the flush with the
/// deferred ones; once flushed, the database builds one at once. The new
/// database has 16 KiB pages.
#[tokio::test]
async fn field_indexes_asked_for_during_a_restore_are_built_at_the_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let restored =
        valv_store::contract::sealed(SqliteStore::open_unsynced(&dir.path().join("restored.db")).await.expect("open"));
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
