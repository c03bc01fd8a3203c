//! Journaled entities (tenants, users, operators, tokens): upserts of full row
//! images and the reads the service needs.

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};
use serde::de::DeserializeOwned;
use valv_store::{Constraint, Row, RowImage, RowKeys, StoreError, StoreResult};

use crate::{backend, corrupt};

/// Runs a statement kept prepared: every commit, import and restore writes
/// row after row through the same few statements, and parsing their SQL
/// again each time was most of a restore's work.
pub(crate) fn run(c: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params)
}

/// Writes one row image. An update never moves a row to another tenant.
pub(crate) fn upsert(tx: &Transaction<'_>, row: &Row) -> StoreResult<()> {
    upsert_image(tx, &RowImage::new(row).map_err(corrupt)?)
}

/// Refuses with `Stale` unless `row` is stored exactly as given (`Change::expecting`).
pub(crate) fn still(tx: &Transaction<'_>, row: &Row) -> StoreResult<()> {
    let image = RowImage::new(row).map_err(corrupt)?;
    let (table, id) = image.keys.locator().ok_or(StoreError::Stale("file_versions"))?;
    let sql = format!("SELECT row_json FROM {table} WHERE id = ?1");
    let stored: Option<String> = tx.query_row(&sql, [id], |r| r.get(0)).optional().map_err(backend)?;
    if stored.as_deref() == Some(image.json.as_str()) { Ok(()) } else { Err(StoreError::Stale(table)) }
}

/// Refuses with `StorageFull` when the chain's tenant holds more file bytes
/// than `change` allows (`Change::within_storage`). Run after the change's
/// rows are written, inside the writer's transaction: no other write interleaves.
pub(crate) fn within_storage(tx: &Transaction<'_>, change: &valv_store::Change) -> StoreResult<()> {
    let (Some(limit), valv_store::Chain::Tenant(tenant)) = (change.storage_limit, change.chain) else {
        return Ok(());
    };
    let sql = "SELECT COALESCE(SUM(size), 0) FROM file_versions WHERE tenant_id = ?1";
    let held: u64 = tx.query_row(sql, [tenant.to_string()], |r| r.get(0)).map_err(backend)?;
    if held > limit { Err(StoreError::StorageFull) } else { Ok(()) }
}

/// Writes a row's columns and image (a replay's come ready, see `ReplayEntry`).
pub(crate) fn upsert_image(tx: &Transaction<'_>, image: &RowImage) -> StoreResult<()> {
    let json = &image.json;
    let changed = match &image.keys {
        RowKeys::Tenant { id, slug } => run(
            tx,
            "INSERT INTO tenants (id, slug, row_json) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, row_json = excluded.row_json",
            params![id, slug, json],
        ),
        RowKeys::User { id, tenant_id, email_norm } => run(
            tx,
            "INSERT INTO users (id, tenant_id, email_norm, row_json) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, row_json = excluded.row_json
             WHERE users.tenant_id = excluded.tenant_id",
            params![id, tenant_id, email_norm, json],
        ),
        RowKeys::Operator { id, email_norm } => run(
            tx,
            "INSERT INTO operators (id, email_norm, row_json) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, row_json = excluded.row_json",
            params![id, email_norm, json],
        ),
        RowKeys::Token { id, tenant_id, user_id } => run(
            tx,
            "INSERT INTO tokens (id, tenant_id, user_id, row_json) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET row_json = excluded.row_json
             WHERE tokens.tenant_id = excluded.tenant_id AND tokens.user_id = excluded.user_id",
            params![id, tenant_id, user_id, json],
        ),
        RowKeys::Collection { id, tenant_id, name } => run(
            tx,
            "INSERT INTO collections (id, tenant_id, name, row_json) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, row_json = excluded.row_json
             WHERE collections.tenant_id = excluded.tenant_id",
            params![id, tenant_id, name, json],
        ),
        RowKeys::Record { id, tenant_id, collection_id, deleted } => run(
            tx,
            "INSERT INTO records (id, tenant_id, collection_id, deleted, row_json) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET deleted = excluded.deleted, row_json = excluded.row_json
             WHERE records.tenant_id = excluded.tenant_id AND records.collection_id = excluded.collection_id",
            params![id, tenant_id, collection_id, deleted, json],
        ),
        RowKeys::File { id, tenant_id, folder, name, deleted } => run(
            tx,
            "INSERT INTO files (id, tenant_id, folder, name, deleted, row_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET folder = excluded.folder, name = excluded.name,
               deleted = excluded.deleted, row_json = excluded.row_json
             WHERE files.tenant_id = excluded.tenant_id",
            params![id, tenant_id, folder, name, deleted, json],
        ),
        RowKeys::Request { id, tenant_id } => run(
            tx,
            "INSERT INTO requests (id, tenant_id, row_json) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET row_json = excluded.row_json WHERE requests.tenant_id = excluded.tenant_id",
            params![id, tenant_id, json],
        ),
        // Versions are immutable: a plain insert, so a second writer of the same number fails.
        RowKeys::FileVersion { file_id, version, tenant_id, size } => run(
            tx,
            "INSERT INTO file_versions (file_id, version, tenant_id, size, row_json) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![file_id, version, tenant_id, size, json],
        ),
    }
    .map_err(backend)?;
    if changed == 1 { Ok(()) } else { Err(StoreError::Conflict(Constraint::RowOwnerMismatch)) }
}

/// One row image by a query returning `row_json`.
pub(crate) fn one<T: DeserializeOwned>(
    c: &Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> StoreResult<Option<T>> {
    let text: Option<String> = c.query_row(sql, args, |r| r.get(0)).optional().map_err(backend)?;
    text.map(|t| serde_json::from_str(&t).map_err(corrupt)).transpose()
}

/// All row images of a query returning `row_json`.
pub(crate) fn many<T: DeserializeOwned>(
    c: &Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> StoreResult<Vec<T>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let texts = stmt
        .query_map(args, |r| r.get::<_, String>(0))
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    texts.iter().map(|t| serde_json::from_str(t).map_err(corrupt)).collect()
}
