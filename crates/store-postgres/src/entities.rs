//! Journaled entities (tenants, users, operators, tokens, collections,
//! records, files, requests): upserts of sealed row images with the columns
//! beside them (blind indexes where a column would hold a personal value),
//! and the reads that return rows as stored, for the vault to open
//! (`VaultSlot::open`).

use std::collections::HashMap;

use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use valv_store::search::Plan;
use valv_store::{
    CollectionRow, Constraint, KeyOwner, Keys, Row, RowImage, RowKey, RowKeys, Sealed, StoreError, StoreResult, Table,
};

use crate::{backend, corrupt, int};

/// What one transaction seals with: the keys fetched for it, and the search
/// plans of the collections its records belong to, read once.
pub(crate) struct Sealing {
    pub(crate) keys: Keys,
    plans: HashMap<String, Plan>,
}

impl Sealing {
    pub(crate) fn new(keys: Keys) -> Self {
        Self { keys, plans: HashMap::new() }
    }

    /// The search plan of `collection`, as stored in this transaction.
    async fn plan(&mut self, c: &mut PgConnection, key: &RowKey, collection: &str) -> StoreResult<&Plan> {
        if !self.plans.contains_key(collection) {
            let plan = stored_plan(c, key, collection).await?.unwrap_or_default();
            self.plans.insert(collection.to_owned(), plan);
        }
        Ok(&self.plans[collection])
    }
}

/// The search plan of a stored collection; `None` when there is none yet.
async fn stored_plan(c: &mut PgConnection, key: &RowKey, collection: &str) -> StoreResult<Option<Plan>> {
    let stored: Option<Vec<u8>> = sqlx::query_scalar("SELECT image FROM collections WHERE id = $1")
        .bind(collection)
        .fetch_optional(&mut *c)
        .await
        .map_err(backend)?;
    stored
        .map(|image| {
            let plain = key.open_row(Table::Collections, collection, &image)?;
            let row: CollectionRow = serde_json::from_slice(&plain).map_err(corrupt)?;
            Ok(Plan::of(&row.fields))
        })
        .transpose()
}

/// A record's field values, read from its image without the rest of it.
fn record_data(json: &[u8]) -> StoreResult<serde_json::Value> {
    #[derive(serde::Deserialize)]
    struct Data {
        data: serde_json::Value,
    }
    Ok(serde_json::from_slice::<Data>(json).map_err(corrupt)?.data)
}

/// Refuses with `Stale` unless `row` is stored exactly as given (`Change::expecting`).
/// Read `FOR UPDATE`: the row stays so until the change commits.
pub(crate) async fn still(c: &mut PgConnection, keys: &Keys, row: &Row) -> StoreResult<()> {
    let image = RowImage::new(row).map_err(corrupt)?;
    let (table, id) = image.keys.locator().ok_or(StoreError::Stale("file_versions"))?;
    let sql = format!("SELECT image FROM {table} WHERE id = $1 FOR UPDATE");
    let stored: Option<Vec<u8>> =
        sqlx::query_scalar(&sql).persistent(false).bind(id).fetch_optional(&mut *c).await.map_err(backend)?;
    let key = keys.get(image.keys.owner()?)?;
    let same = match stored {
        Some(sealed) => key.open_row(image.keys.table(), id, &sealed)? == image.json.as_bytes(),
        None => false,
    };
    if same { Ok(()) } else { Err(StoreError::Stale(table)) }
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
pub(crate) async fn upsert(c: &mut PgConnection, s: &mut Sealing, row: &Row) -> StoreResult<()> {
    upsert_run(c, s, &[RowImage::new(row).map_err(corrupt)?]).await
}

/// Writes row images of one table, each key at most once, in one statement
/// (restores write runs of rows; see `runs`). Rows are written in order, so
/// a run does what the same rows written one by one would.
pub(crate) async fn upsert_run(c: &mut PgConnection, s: &mut Sealing, rows: &[RowImage]) -> StoreResult<()> {
    let Some(first) = rows.first() else { return Ok(()) };
    let mut values = Vec::with_capacity(rows.len());
    for image in rows {
        values.push(sealed_values(c, s, image).await?);
    }
    let (insert, conflict) = statement(&first.keys);
    let mut q = QueryBuilder::<Postgres>::new(insert);
    q.push_values(values, |mut b, row| {
        for v in row {
            match v {
                Value::Text(s) => b.push_bind(s),
                Value::Bool(x) => b.push_bind(x),
                Value::Int(n) => b.push_bind(n),
                Value::Bytes(x) => b.push_bind(x),
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
            "INSERT INTO tenants (id, slug, image) ",
            " ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, image = excluded.image",
        ),
        RowKeys::User { .. } => (
            "INSERT INTO users (id, tenant_id, email_norm, image) ",
            " ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, image = excluded.image
             WHERE users.tenant_id = excluded.tenant_id",
        ),
        RowKeys::Operator { .. } => (
            "INSERT INTO operators (id, email_norm, image) ",
            " ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, image = excluded.image",
        ),
        RowKeys::Token { .. } => (
            "INSERT INTO tokens (id, tenant_id, user_id, image) ",
            " ON CONFLICT (id) DO UPDATE SET image = excluded.image
             WHERE tokens.tenant_id = excluded.tenant_id AND tokens.user_id = excluded.user_id",
        ),
        RowKeys::Collection { .. } => (
            "INSERT INTO collections (id, tenant_id, name, image) ",
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name, image = excluded.image
             WHERE collections.tenant_id = excluded.tenant_id",
        ),
        RowKeys::Record { .. } => (
            "INSERT INTO records (id, tenant_id, collection_id, deleted, image, search) ",
            " ON CONFLICT (id) DO UPDATE SET deleted = excluded.deleted, image = excluded.image,
               search = excluded.search
             WHERE records.tenant_id = excluded.tenant_id AND records.collection_id = excluded.collection_id",
        ),
        RowKeys::File { .. } => (
            "INSERT INTO files (id, tenant_id, folder, name, deleted, image) ",
            " ON CONFLICT (id) DO UPDATE SET folder = excluded.folder, name = excluded.name,
               deleted = excluded.deleted, image = excluded.image
             WHERE files.tenant_id = excluded.tenant_id",
        ),
        RowKeys::Request { .. } => (
            "INSERT INTO requests (id, tenant_id, image) ",
            " ON CONFLICT (id) DO UPDATE SET image = excluded.image WHERE requests.tenant_id = excluded.tenant_id",
        ),
        // Versions are immutable: a plain insert, so a second writer of the same number fails.
        RowKeys::FileVersion { .. } => ("INSERT INTO file_versions (file_id, version, tenant_id, size, image) ", ""),
    }
}

/// A column value of a row.
enum Value {
    Text(String),
    Bool(bool),
    Int(i64),
    Bytes(Vec<u8>),
}

/// A row's values in its insert's column order: its columns (personal
/// values as blind indexes), its sealed image, and a record's `search`.
/// A collection whose search plan changes has its records' `search`
/// rewritten first.
async fn sealed_values(c: &mut PgConnection, s: &mut Sealing, image: &RowImage) -> StoreResult<Vec<Value>> {
    use Value::{Bool, Bytes, Int, Text};
    let key = s.keys.shared(image.keys.owner()?)?;
    let key = key.as_ref();
    let text = |v: &String| Text(v.clone());
    let mut search = None;
    let mut out = match &image.keys {
        RowKeys::Tenant { id, slug } => vec![text(id), text(slug)],
        RowKeys::User { id, tenant_id, email_norm } => {
            vec![text(id), text(tenant_id), Text(key.blind("email", email_norm))]
        }
        RowKeys::Operator { id, email_norm } => vec![text(id), Text(key.blind("email", email_norm))],
        RowKeys::Token { id, tenant_id, user_id } => vec![text(id), text(tenant_id), text(user_id)],
        RowKeys::Collection { id, tenant_id, name } => {
            reindex_if_replanned(c, s, key, id, &image.json).await?;
            vec![text(id), text(tenant_id), Text(key.blind("collection", name))]
        }
        RowKeys::Record { id, tenant_id, collection_id, deleted } => {
            search = Some(search_column(c, s, key, collection_id, &image.json).await?);
            vec![text(id), text(tenant_id), text(collection_id), Bool(*deleted)]
        }
        RowKeys::File { id, tenant_id, folder, name, deleted } => vec![
            text(id),
            text(tenant_id),
            Text(key.blind("folder", folder)),
            Text(key.blind("file", name)),
            Bool(*deleted),
        ],
        RowKeys::Request { id, tenant_id } => vec![text(id), text(tenant_id)],
        RowKeys::FileVersion { file_id, version, tenant_id, size } => {
            vec![text(file_id), Int(i64::from(*version)), text(tenant_id), Int(int(*size))]
        }
    };
    out.push(Bytes(image.sealed(key)));
    out.extend(search.map(Text));
    Ok(out)
}

/// The `search` column of a record image in `collection`.
async fn search_column(
    c: &mut PgConnection,
    s: &mut Sealing,
    key: &RowKey,
    collection: &str,
    json: &str,
) -> StoreResult<String> {
    let plan = s.plan(c, key, collection).await?;
    if *plan == Plan::default() {
        return Ok("{}".to_owned());
    }
    Ok(plan.column(&record_data(json.as_bytes())?, key))
}

/// Before a collection is written: when its fields now ask for another
/// search column (a field marked personal, a reference added), rewrites
/// the column of every record it holds, in the same transaction.
async fn reindex_if_replanned(
    c: &mut PgConnection,
    s: &mut Sealing,
    key: &RowKey,
    collection: &str,
    json: &str,
) -> StoreResult<()> {
    let row: CollectionRow = serde_json::from_str(json).map_err(corrupt)?;
    let plan = Plan::of(&row.fields);
    let before = stored_plan(c, key, collection).await?;
    if before.as_ref().is_some_and(|b| *b != plan) {
        let records: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT id, image FROM records WHERE collection_id = $1")
            .bind(collection)
            .fetch_all(&mut *c)
            .await
            .map_err(backend)?;
        let (mut ids, mut columns) = (Vec::with_capacity(records.len()), Vec::with_capacity(records.len()));
        for (id, image) in records {
            let data = record_data(&key.open_row(Table::Records, &id, &image)?)?;
            columns.push(plan.column(&data, key));
            ids.push(id);
        }
        sqlx::query(
            "UPDATE records r SET search = u.search FROM UNNEST($1::TEXT[], $2::TEXT[]) AS u (id, search)
             WHERE r.id = u.id",
        )
        .bind(ids)
        .bind(columns)
        .execute(&mut *c)
        .await
        .map_err(backend)?;
    }
    s.plans.insert(collection.to_owned(), plan);
    Ok(())
}

/// A row as stored: its tenant (`NULL` for the provider's tables), its key
/// in its table and its sealed image.
pub(crate) type StoredRow = (Option<String>, String, Vec<u8>);

/// A query returning a [`StoredRow`].
pub(crate) type SealedQuery<'q> = QueryAs<'q, Postgres, StoredRow, PgArguments>;

/// `SELECT tenant_id, id, image ...` for [`one`] and [`many`].
pub(crate) fn rows(sql: &str) -> SealedQuery<'_> {
    sqlx::query_as(sql)
}

/// A stored row with its owner, for the vault to open.
pub(crate) fn sealed((tenant, id, image): StoredRow) -> StoreResult<Sealed> {
    Ok(Sealed { owner: KeyOwner::of_column(tenant.as_deref())?, id, image })
}

/// One row as stored, by a query returning `tenant_id` (NULL for the
/// provider's tables), the row's key and `image`.
pub(crate) async fn one(pool: &PgPool, q: SealedQuery<'_>) -> StoreResult<Option<Sealed>> {
    q.fetch_optional(pool).await.map_err(backend)?.map(sealed).transpose()
}

/// All rows as stored of a query shaped as for [`one`].
pub(crate) async fn many(pool: &PgPool, q: SealedQuery<'_>) -> StoreResult<Vec<Sealed>> {
    q.fetch_all(pool).await.map_err(backend)?.into_iter().map(sealed).collect()
}
