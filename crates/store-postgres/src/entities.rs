//! Journaled entities (tenants, users, operators, tokens, collections,
//! records, files, requests): upserts of full row images and the helpers the
//! reads share.

use serde::de::DeserializeOwned;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryScalar;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use valv_store::{Constraint, Row, RowImage, RowKeys, StoreError, StoreResult};

use crate::{backend, corrupt, int};

/// Refuses with `Stale` unless `row` is stored exactly as given (`Change::expecting`).
/// Read `FOR UPDATE`: the row stays so until the change commits.
pub(crate) async fn still(c: &mut PgConnection, row: &Row) -> StoreResult<()> {
    let image = RowImage::new(row).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let (table, id) = image.keys.locator().ok_or(StoreError::Stale("file_versions"))?;
    let sql = format!("SELECT row_json FROM {table} WHERE id = $1 FOR UPDATE");
    let stored: Option<String> =
        sqlx::query_scalar(&sql).persistent(false).bind(id).fetch_optional(&mut *c).await.map_err(backend)?;
    if stored.as_deref() == Some(image.json.as_str()) { Ok(()) } else { Err(StoreError::Stale(table)) }
}

/// Refuses with `StorageFull` when the chain's tenant holds more file bytes
/// than `change` allows (`Change::within_storage`). Run after the change's
/// rows are written, under the write lock every journaled change takes: no
/// other process's upload commits in between (review S5).
pub(crate) async fn within_storage(c: &mut PgConnection, change: &valv_store::Change) -> StoreResult<()> {
    let (Some(limit), valv_store::Chain::Tenant(tenant)) = (change.storage_limit, change.chain) else {
        return Ok(());
    };
    let sql = "SELECT COALESCE(SUM(size), 0)::BIGINT FROM file_versions WHERE tenant_id = $1";
    let held: i64 = sqlx::query_scalar(sql).bind(tenant.to_string()).fetch_one(&mut *c).await.map_err(backend)?;
    if crate::uint(held)? > limit { Err(StoreError::StorageFull) } else { Ok(()) }
}

/// Writes one row image. An update never moves a row to another tenant.
pub(crate) async fn upsert(c: &mut PgConnection, row: &Row) -> StoreResult<()> {
    upsert_run(c, &[RowImage::new(row).map_err(corrupt)?]).await
}

/// Writes row images of one table, each key at most once, in one statement
/// (restores write runs of rows; see `runs`). Rows are written in order, so
/// a run does what the same rows written one by one would.
pub(crate) async fn upsert_run(c: &mut PgConnection, rows: &[RowImage]) -> StoreResult<()> {
    let Some(first) = rows.first() else { return Ok(()) };
    let (insert, conflict) = statement(&first.keys);
    let values = rows.iter().map(values);
    let mut q = QueryBuilder::<Postgres>::new(insert);
    q.push_values(values, |mut b, row| {
        for v in row {
            match v {
                Value::Text(s) => b.push_bind(s),
                Value::Bool(x) => b.push_bind(x),
                Value::Int(n) => b.push_bind(n),
            };
        }
    });
    q.push(conflict);
    // One row is the live server's statement, kept prepared; a run's text varies with its length.
    let changed = q.build().persistent(rows.len() == 1).execute(c).await.map_err(backend)?.rows_affected();
    // Fewer rows changed: the conflict's `WHERE` refused to move a row to another owner.
    if changed == rows.len() as u64 { Ok(()) } else { Err(StoreError::Conflict(Constraint::RowOwnerMismatch)) }
}

/// A table's insert (up to `VALUES`) and what a conflict on its key does.
fn statement(keys: &RowKeys) -> (&'static str, &'static str) {
    match keys {
        RowKeys::Tenant { .. } => (
            "INSERT INTO tenants (id, slug, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, row_json = excluded.row_json",
        ),
        RowKeys::User { .. } => (
            "INSERT INTO users (id, tenant_id, email_norm, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, row_json = excluded.row_json
             WHERE users.tenant_id = excluded.tenant_id",
        ),
        RowKeys::Operator { .. } => (
            "INSERT INTO operators (id, email_norm, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, row_json = excluded.row_json",
        ),
        RowKeys::Token { .. } => (
            "INSERT INTO tokens (id, tenant_id, user_id, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET row_json = excluded.row_json
             WHERE tokens.tenant_id = excluded.tenant_id AND tokens.user_id = excluded.user_id",
        ),
        RowKeys::Collection { .. } => (
            "INSERT INTO collections (id, tenant_id, name, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name, row_json = excluded.row_json
             WHERE collections.tenant_id = excluded.tenant_id",
        ),
        RowKeys::Record { .. } => (
            "INSERT INTO records (id, tenant_id, collection_id, deleted, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET deleted = excluded.deleted, row_json = excluded.row_json
             WHERE records.tenant_id = excluded.tenant_id AND records.collection_id = excluded.collection_id",
        ),
        RowKeys::File { .. } => (
            "INSERT INTO files (id, tenant_id, folder, name, deleted, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET folder = excluded.folder, name = excluded.name,
               deleted = excluded.deleted, row_json = excluded.row_json
             WHERE files.tenant_id = excluded.tenant_id",
        ),
        RowKeys::Request { .. } => (
            "INSERT INTO requests (id, tenant_id, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET row_json = excluded.row_json WHERE requests.tenant_id = excluded.tenant_id",
        ),
        // Versions are immutable: a plain insert, so a second writer of the same number fails.
        RowKeys::FileVersion { .. } => ("INSERT INTO file_versions (file_id, version, tenant_id, size, row_json) ", ""),
    }
}

/// A column value of a row image.
enum Value {
    Text(String),
    Bool(bool),
    Int(i64),
}

/// A row's values in its insert's column order.
fn values(image: &RowImage) -> Vec<Value> {
    use Value::{Bool, Int, Text};
    let text = |s: &String| Text(s.clone());
    let mut out = match &image.keys {
        RowKeys::Tenant { id, slug } => vec![text(id), text(slug)],
        RowKeys::User { id, tenant_id, email_norm } => vec![text(id), text(tenant_id), text(email_norm)],
        RowKeys::Operator { id, email_norm } => vec![text(id), text(email_norm)],
        RowKeys::Token { id, tenant_id, user_id } => vec![text(id), text(tenant_id), text(user_id)],
        RowKeys::Collection { id, tenant_id, name } => vec![text(id), text(tenant_id), text(name)],
        RowKeys::Record { id, tenant_id, collection_id, deleted } => {
            vec![text(id), text(tenant_id), text(collection_id), Bool(*deleted)]
        }
        RowKeys::File { id, tenant_id, folder, name, deleted } => {
            vec![text(id), text(tenant_id), text(folder), text(name), Bool(*deleted)]
        }
        RowKeys::Request { id, tenant_id } => vec![text(id), text(tenant_id)],
        RowKeys::FileVersion { file_id, version, tenant_id, size } => {
            vec![text(file_id), Int(i64::from(*version)), text(tenant_id), Int(int(*size))]
        }
    };
    out.push(text(&image.json));
    out
}

/// A query returning one `row_json` column.
pub(crate) type JsonQuery<'q> = QueryScalar<'q, Postgres, String, PgArguments>;

/// `SELECT row_json ...` for [`one`] and [`many`].
pub(crate) fn rows(sql: &str) -> JsonQuery<'_> {
    sqlx::query_scalar(sql)
}

/// One row image by a query returning `row_json`.
pub(crate) async fn one<T: DeserializeOwned>(pool: &PgPool, q: JsonQuery<'_>) -> StoreResult<Option<T>> {
    let text = q.fetch_optional(pool).await.map_err(backend)?;
    text.map(|t| serde_json::from_str(&t).map_err(corrupt)).transpose()
}

/// All row images of a query returning `row_json`.
pub(crate) async fn many<T: DeserializeOwned>(pool: &PgPool, q: JsonQuery<'_>) -> StoreResult<Vec<T>> {
    let texts = q.fetch_all(pool).await.map_err(backend)?;
    texts.iter().map(|t| serde_json::from_str(t).map_err(corrupt)).collect()
}
