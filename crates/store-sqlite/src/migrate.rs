//! Embedded migrations, applied in order at start. Both backends use the same
//! numbered names (STYLE.md).

use rusqlite::Connection;
use valv_store::StoreResult;

use crate::backend;

const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../migrations/0001_init.sql")),
    ("0002_records", include_str!("../migrations/0002_records.sql")),
    ("0003_files", include_str!("../migrations/0003_files.sql")),
    ("0004_erasure", include_str!("../migrations/0004_erasure.sql")),
    ("0005_journal_actor", include_str!("../migrations/0005_journal_actor.sql")),
    ("0006_backup", include_str!("../migrations/0006_backup.sql")),
    ("0007_records_paging", include_str!("../migrations/0007_records_paging.sql")),
];

pub(crate) fn run(c: &mut Connection) -> StoreResult<()> {
    // One transaction for every pending migration: a new database is made
    // with one commit, and a failed migration leaves the schema as it was.
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)").map_err(backend)?;
    for (name, sql) in MIGRATIONS {
        let done: bool = tx
            .query_row("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = ?1)", [name], |r| r.get(0))
            .map_err(backend)?;
        if !done {
            tx.execute_batch(sql).map_err(backend)?;
            tx.execute("INSERT INTO schema_migrations (name) VALUES (?1)", [name]).map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)
}
