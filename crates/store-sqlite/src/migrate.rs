//! Embedded migrations, applied in order at start. Both backends use the same
//! numbered names (STYLE.md).

use rusqlite::Connection;
use valv_store::StoreResult;

use crate::backend;

pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../migrations/0001_init.sql")),
    ("0002_records", include_str!("../migrations/0002_records.sql")),
    ("0003_files", include_str!("../migrations/0003_files.sql")),
    ("0004_erasure", include_str!("../migrations/0004_erasure.sql")),
    ("0005_journal_actor", include_str!("../migrations/0005_journal_actor.sql")),
    ("0006_backup", include_str!("../migrations/0006_backup.sql")),
    ("0007_records_paging", include_str!("../migrations/0007_records_paging.sql")),
    ("0008_records_one_index", include_str!("../migrations/0008_records_one_index.sql")),
    ("0009_jobs", include_str!("../migrations/0009_jobs.sql")),
    ("0010_setup_tokens", include_str!("../migrations/0010_setup_tokens.sql")),
    ("0011_sealed", include_str!("../migrations/0011_sealed.sql")),
];

pub(crate) fn run(c: &mut Connection) -> StoreResult<()> {
    apply(c, MIGRATIONS)
}

/// Applies those of `migrations` not applied yet (a test builds an earlier
/// release's schema with the first few).
pub(crate) fn apply(c: &mut Connection, migrations: &[(&str, &str)]) -> StoreResult<()> {
    // One transaction for every pending migration: a new database is made
    // with one commit, and a failed migration leaves the schema as it was.
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)").map_err(backend)?;
    for (name, sql) in migrations {
        let done: bool = tx
            .query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = ?1)", [name], |r| r.get(0))
            .map_err(backend)?;
        if !done {
            if *name == "0011_sealed" {
                drop_field_indexes(&tx)?;
            }
            tx.execute_batch(sql).map_err(backend)?;
            tx.execute("INSERT INTO schema_migrations (name) VALUES (?1)", [name]).map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)
}

/// Drops the indexes on record field values in clear: the fields are
/// sealed now, and the service indexes the `search` column instead.
fn drop_field_indexes(tx: &rusqlite::Transaction<'_>) -> StoreResult<()> {
    let names: Vec<String> = {
        let mut q = tx
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'records' AND sql LIKE '%json_extract%'")
            .map_err(backend)?;
        q.query_map([], |r| r.get(0)).map_err(backend)?.collect::<Result<_, _>>().map_err(backend)?
    };
    for name in names {
        tx.execute_batch(&format!("DROP INDEX \"{name}\"")).map_err(backend)?;
    }
    Ok(())
}

/// Drops the secondary indexes of the tables a restore fills row by row
/// (the journal and the records) and returns the statements that build them
/// again: built once at the end, an index is one sort instead of a B-tree
/// insert per row. Keys and unique constraints stay, so conflicts are still
/// caught as the rows come and a chain is still found by its key; a tenant
/// purge replayed meanwhile scans the records table instead (a purge is rare,
/// and a restore replays at most the entries after its base snapshot).
pub(crate) fn defer_indexes(c: &mut Connection) -> StoreResult<Vec<String>> {
    let tx = c.transaction().map_err(backend)?;
    let indexes: Vec<(String, String)> = {
        let mut q = tx
            .prepare(
                "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
                 AND tbl_name IN ('journal', 'records') AND sql NOT LIKE 'CREATE UNIQUE%'",
            )
            .map_err(backend)?;
        q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(backend)?.collect::<Result<_, _>>().map_err(backend)?
    };
    for (name, _) in &indexes {
        tx.execute_batch(&format!("DROP INDEX \"{name}\"")).map_err(backend)?;
    }
    tx.commit().map_err(backend)?;
    Ok(indexes.into_iter().map(|(_, sql)| sql).collect())
}
