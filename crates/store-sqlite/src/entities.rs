//! Journaled entities (tenants, users, operators, tokens): upserts of full row
//! images and the reads the service needs.

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};
use serde::de::DeserializeOwned;
use valv_store::{Row, StoreError, StoreResult};

use crate::{backend, corrupt};

fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(corrupt)
}

/// Runs a statement kept prepared: every commit, import and restore writes
/// row after row through the same few statements, and parsing their SQL
/// again each time was most of a restore's work.
pub(crate) fn run(c: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params)
}

/// Writes one row image. An update never moves a row to another tenant.
pub(crate) fn upsert(tx: &Transaction<'_>, row: &Row) -> StoreResult<()> {
    let changed = match row {
        Row::Tenant(t) => run(
            tx,
            "INSERT INTO tenants (id, slug, row_json) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, row_json = excluded.row_json",
            params![t.id.to_string(), t.slug.as_str(), json(t)?],
        ),
        Row::User(u) => run(
            tx,
            "INSERT INTO users (id, tenant_id, email_norm, row_json) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, row_json = excluded.row_json
             WHERE users.tenant_id = excluded.tenant_id",
            params![u.id.to_string(), u.tenant_id.to_string(), u.email.normalized(), json(u)?],
        ),
        Row::Operator(o) => run(
            tx,
            "INSERT INTO operators (id, email_norm, row_json) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, row_json = excluded.row_json",
            params![o.id.to_string(), o.email.normalized(), json(o)?],
        ),
        Row::Token(k) => run(
            tx,
            "INSERT INTO tokens (id, tenant_id, user_id, row_json) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET row_json = excluded.row_json
             WHERE tokens.tenant_id = excluded.tenant_id AND tokens.user_id = excluded.user_id",
            params![k.id.to_string(), k.tenant_id.to_string(), k.user_id.to_string(), json(k)?],
        ),
        Row::Collection(c) => run(
            tx,
            "INSERT INTO collections (id, tenant_id, name, row_json) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, row_json = excluded.row_json
             WHERE collections.tenant_id = excluded.tenant_id",
            params![c.id.to_string(), c.tenant_id.to_string(), c.name, json(c)?],
        ),
        Row::Record(r) => run(
            tx,
            "INSERT INTO records (id, tenant_id, collection_id, deleted, row_json) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET deleted = excluded.deleted, row_json = excluded.row_json
             WHERE records.tenant_id = excluded.tenant_id AND records.collection_id = excluded.collection_id",
            params![
                r.id.to_string(),
                r.tenant_id.to_string(),
                r.collection_id.to_string(),
                r.deleted_at.is_some(),
                json(r)?
            ],
        ),
        Row::File(f) => run(
            tx,
            "INSERT INTO files (id, tenant_id, folder, name, deleted, row_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET folder = excluded.folder, name = excluded.name,
               deleted = excluded.deleted, row_json = excluded.row_json
             WHERE files.tenant_id = excluded.tenant_id",
            params![
                f.id.to_string(),
                f.tenant_id.to_string(),
                f.folder.as_str(),
                f.name.as_str(),
                f.deleted_at.is_some(),
                json(f)?
            ],
        ),
        Row::Request(q) => run(
            tx,
            "INSERT INTO requests (id, tenant_id, row_json) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET row_json = excluded.row_json WHERE requests.tenant_id = excluded.tenant_id",
            params![q.id, q.tenant_id.to_string(), json(q)?],
        ),
        // Versions are immutable: a plain insert, so a second writer of the same number fails.
        Row::FileVersion(v) => run(
            tx,
            "INSERT INTO file_versions (file_id, version, tenant_id, size, row_json) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![v.file_id.to_string(), v.version, v.tenant_id.to_string(), v.size, json(v)?],
        ),
    }
    .map_err(backend)?;
    if changed == 1 { Ok(()) } else { Err(StoreError::Conflict("row_owner_mismatch")) }
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
