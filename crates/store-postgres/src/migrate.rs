//! Embedded migrations, applied in order at start. Both backends use the same
//! numbered names (STYLE.md). Each runs in a transaction holding the write
//! lock, so instances starting together apply each migration once, and
//! never while another instance writes.

use sqlx::{Executor as _, PgConnection, PgPool};
use valv_store::StoreResult;

use crate::backend;
use crate::conn::{WRITE_LOCK, write_tx};

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

pub(crate) async fn run(pool: &PgPool) -> StoreResult<()> {
    apply(pool, MIGRATIONS).await
}

/// Applies those of `migrations` not applied yet, in order (tests stop
/// short of the newest to make a database of an earlier release).
pub(crate) async fn apply(pool: &PgPool, migrations: &[(&str, &str)]) -> StoreResult<()> {
    for (name, sql) in migrations {
        let mut tx = write_tx(pool, WRITE_LOCK).await?;
        // Inside the lock: two instances creating it at once would collide.
        // Looked up first, as `IF NOT EXISTS` would log a notice at every start.
        let table: bool = sqlx::query_scalar("SELECT to_regclass('schema_migrations') IS NOT NULL")
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        if !table {
            tx.execute("CREATE TABLE schema_migrations (name TEXT COLLATE \"C\" PRIMARY KEY)")
                .await
                .map_err(backend)?;
        }
        let done: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)")
            .bind(name)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        if !done {
            if *name == "0011_sealed" {
                drop_field_indexes(&mut tx).await?;
            }
            // A bare string runs as a simple query, which may hold several statements.
            tx.execute(*sql).await.map_err(backend)?;
            sqlx::query("INSERT INTO schema_migrations (name) VALUES ($1)")
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
    }
    Ok(())
}

/// Drops the indexes on record field values in clear: the fields are
/// sealed now, and the service indexes the `search` column instead. Found by
/// their expression (`records::index` names them after a collection and a
/// field), so none is missed and no other index is touched.
async fn drop_field_indexes(c: &mut PgConnection) -> StoreResult<()> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::TEXT FROM pg_indexes
         WHERE schemaname = current_schema() AND tablename = 'records' AND indexdef LIKE '%row_json%'",
    )
    .fetch_all(&mut *c)
    .await
    .map_err(backend)?;
    for name in names {
        let sql = format!("DROP INDEX \"{}\"", name.replace('"', "\"\""));
        sqlx::query(&sql).persistent(false).execute(&mut *c).await.map_err(backend)?;
    }
    Ok(())
}
