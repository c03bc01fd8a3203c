//! Journaled entities (tenants, users, operators, tokens, collections,
//! records, files, requests): upserts of full row images and the helpers the
//! reads share.

use serde::de::DeserializeOwned;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryScalar;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use valv_store::{Row, StoreError, StoreResult};

use crate::{backend, corrupt, int};

fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(corrupt)
}

/// Writes one row image. An update never moves a row to another tenant.
pub(crate) async fn upsert(c: &mut PgConnection, row: &Row) -> StoreResult<()> {
    upsert_run(c, std::slice::from_ref(row)).await
}

/// Writes row images of one table, each key at most once, in one statement
/// (restores write runs of rows; see `runs`). Rows are written in order, so
/// a run does what the same rows written one by one would.
pub(crate) async fn upsert_run(c: &mut PgConnection, rows: &[Row]) -> StoreResult<()> {
    let Some(first) = rows.first() else { return Ok(()) };
    let (insert, conflict) = statement(first);
    let values = rows.iter().map(values).collect::<StoreResult<Vec<_>>>()?;
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
    if changed == rows.len() as u64 { Ok(()) } else { Err(StoreError::Conflict("row_owner_mismatch")) }
}

/// A table's insert (up to `VALUES`) and what a conflict on its key does.
fn statement(row: &Row) -> (&'static str, &'static str) {
    match row {
        Row::Tenant(_) => (
            "INSERT INTO tenants (id, slug, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, row_json = excluded.row_json",
        ),
        Row::User(_) => (
            "INSERT INTO users (id, tenant_id, email_norm, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, row_json = excluded.row_json
             WHERE users.tenant_id = excluded.tenant_id",
        ),
        Row::Operator(_) => (
            "INSERT INTO operators (id, email_norm, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, row_json = excluded.row_json",
        ),
        Row::Token(_) => (
            "INSERT INTO tokens (id, tenant_id, user_id, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET row_json = excluded.row_json
             WHERE tokens.tenant_id = excluded.tenant_id AND tokens.user_id = excluded.user_id",
        ),
        Row::Collection(_) => (
            "INSERT INTO collections (id, tenant_id, name, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name, row_json = excluded.row_json
             WHERE collections.tenant_id = excluded.tenant_id",
        ),
        Row::Record(_) => (
            "INSERT INTO records (id, tenant_id, collection_id, deleted, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET deleted = excluded.deleted, row_json = excluded.row_json
             WHERE records.tenant_id = excluded.tenant_id AND records.collection_id = excluded.collection_id",
        ),
        Row::File(_) => (
            "INSERT INTO files (id, tenant_id, folder, name, deleted, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET folder = excluded.folder, name = excluded.name,
               deleted = excluded.deleted, row_json = excluded.row_json
             WHERE files.tenant_id = excluded.tenant_id",
        ),
        Row::Request(_) => (
            "INSERT INTO requests (id, tenant_id, row_json) ",
            " ON CONFLICT (id) DO UPDATE SET row_json = excluded.row_json WHERE requests.tenant_id = excluded.tenant_id",
        ),
        // Versions are immutable: a plain insert, so a second writer of the same number fails.
        Row::FileVersion(_) => ("INSERT INTO file_versions (file_id, version, tenant_id, size, row_json) ", ""),
    }
}

/// A column value of a row image.
enum Value {
    Text(String),
    Bool(bool),
    Int(i64),
}

/// A row's values in its insert's column order.
fn values(row: &Row) -> StoreResult<Vec<Value>> {
    use Value::{Bool, Int, Text};
    Ok(match row {
        Row::Tenant(t) => vec![Text(t.id.to_string()), Text(t.slug.as_str().into()), Text(json(t)?)],
        Row::User(u) => {
            vec![Text(u.id.to_string()), Text(u.tenant_id.to_string()), Text(u.email.normalized()), Text(json(u)?)]
        }
        Row::Operator(o) => vec![Text(o.id.to_string()), Text(o.email.normalized()), Text(json(o)?)],
        Row::Token(k) => {
            vec![Text(k.id.to_string()), Text(k.tenant_id.to_string()), Text(k.user_id.to_string()), Text(json(k)?)]
        }
        Row::Collection(c) => {
            vec![Text(c.id.to_string()), Text(c.tenant_id.to_string()), Text(c.name.clone()), Text(json(c)?)]
        }
        Row::Record(r) => vec![
            Text(r.id.to_string()),
            Text(r.tenant_id.to_string()),
            Text(r.collection_id.to_string()),
            Bool(r.deleted_at.is_some()),
            Text(json(r)?),
        ],
        Row::File(f) => vec![
            Text(f.id.to_string()),
            Text(f.tenant_id.to_string()),
            Text(f.folder.as_str().into()),
            Text(f.name.as_str().into()),
            Bool(f.deleted_at.is_some()),
            Text(json(f)?),
        ],
        Row::Request(q) => vec![Text(q.id.clone()), Text(q.tenant_id.to_string()), Text(json(q)?)],
        Row::FileVersion(v) => vec![
            Text(v.file_id.to_string()),
            Int(i64::from(v.version)),
            Text(v.tenant_id.to_string()),
            Int(int(v.size)),
            Text(json(v)?),
        ],
    })
}

/// What a row is known by in its table: a run holds each key once, as one
/// statement cannot change a row twice.
pub(crate) fn key(row: &Row) -> String {
    match row {
        Row::Tenant(t) => t.id.to_string(),
        Row::User(u) => u.id.to_string(),
        Row::Operator(o) => o.id.to_string(),
        Row::Token(k) => k.id.to_string(),
        Row::Collection(c) => c.id.to_string(),
        Row::Record(r) => r.id.to_string(),
        Row::File(f) => f.id.to_string(),
        Row::Request(q) => q.id.clone(),
        Row::FileVersion(v) => format!("{}/{}", v.file_id, v.version),
    }
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
