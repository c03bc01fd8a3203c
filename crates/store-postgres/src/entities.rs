//! Journaled entities (tenants, users, operators, tokens, collections,
//! records, files, requests): upserts of full row images and the helpers the
//! reads share.

use serde::de::DeserializeOwned;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryScalar;
use sqlx::{PgConnection, PgPool, Postgres};
use valv_store::{Row, StoreError, StoreResult};

use crate::{backend, corrupt, int};

fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(corrupt)
}

/// Writes one row image. An update never moves a row to another tenant.
pub(crate) async fn upsert(c: &mut PgConnection, row: &Row) -> StoreResult<()> {
    let q = match row {
        Row::Tenant(t) => sqlx::query(
            "INSERT INTO tenants (id, slug, row_json) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, row_json = excluded.row_json",
        )
        .bind(t.id.to_string())
        .bind(t.slug.as_str())
        .bind(json(t)?),
        Row::User(u) => sqlx::query(
            "INSERT INTO users (id, tenant_id, email_norm, row_json) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, row_json = excluded.row_json
             WHERE users.tenant_id = excluded.tenant_id",
        )
        .bind(u.id.to_string())
        .bind(u.tenant_id.to_string())
        .bind(u.email.normalized())
        .bind(json(u)?),
        Row::Operator(o) => sqlx::query(
            "INSERT INTO operators (id, email_norm, row_json) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, row_json = excluded.row_json",
        )
        .bind(o.id.to_string())
        .bind(o.email.normalized())
        .bind(json(o)?),
        Row::Token(k) => sqlx::query(
            "INSERT INTO tokens (id, tenant_id, user_id, row_json) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET row_json = excluded.row_json
             WHERE tokens.tenant_id = excluded.tenant_id AND tokens.user_id = excluded.user_id",
        )
        .bind(k.id.to_string())
        .bind(k.tenant_id.to_string())
        .bind(k.user_id.to_string())
        .bind(json(k)?),
        Row::Collection(col) => sqlx::query(
            "INSERT INTO collections (id, tenant_id, name, row_json) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, row_json = excluded.row_json
             WHERE collections.tenant_id = excluded.tenant_id",
        )
        .bind(col.id.to_string())
        .bind(col.tenant_id.to_string())
        .bind(&col.name)
        .bind(json(col)?),
        Row::Record(r) => sqlx::query(
            "INSERT INTO records (id, tenant_id, collection_id, deleted, row_json) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET deleted = excluded.deleted, row_json = excluded.row_json
             WHERE records.tenant_id = excluded.tenant_id AND records.collection_id = excluded.collection_id",
        )
        .bind(r.id.to_string())
        .bind(r.tenant_id.to_string())
        .bind(r.collection_id.to_string())
        .bind(r.deleted_at.is_some())
        .bind(json(r)?),
        Row::File(f) => sqlx::query(
            "INSERT INTO files (id, tenant_id, folder, name, deleted, row_json) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET folder = excluded.folder, name = excluded.name,
               deleted = excluded.deleted, row_json = excluded.row_json
             WHERE files.tenant_id = excluded.tenant_id",
        )
        .bind(f.id.to_string())
        .bind(f.tenant_id.to_string())
        .bind(f.folder.as_str())
        .bind(f.name.as_str())
        .bind(f.deleted_at.is_some())
        .bind(json(f)?),
        Row::Request(q) => sqlx::query(
            "INSERT INTO requests (id, tenant_id, row_json) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET row_json = excluded.row_json WHERE requests.tenant_id = excluded.tenant_id",
        )
        .bind(&q.id)
        .bind(q.tenant_id.to_string())
        .bind(json(q)?),
        // Versions are immutable: a plain insert, so a second writer of the same number fails.
        Row::FileVersion(v) => sqlx::query(
            "INSERT INTO file_versions (file_id, version, tenant_id, size, row_json) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(v.file_id.to_string())
        .bind(i64::from(v.version))
        .bind(v.tenant_id.to_string())
        .bind(int(v.size))
        .bind(json(v)?),
    };
    let changed = q.execute(c).await.map_err(backend)?.rows_affected();
    // No row changed: the conflict's `WHERE` refused to move the row to another owner.
    if changed == 1 { Ok(()) } else { Err(StoreError::Conflict("row_owner_mismatch")) }
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
