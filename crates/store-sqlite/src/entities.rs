//! Journaled entities: upserts of sealed row images with the columns beside
//! them (blind indexes where a column would hold a personal value), and the
//! reads that return rows as stored, for the vault to open (`VaultSlot::open`).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};
use valv_store::search::Plan;
use valv_store::{Constraint, KeyOwner, Keys, Row, RowImage, RowKey, RowKeys, Sealed, StoreError, StoreResult, Table};

use crate::{backend, corrupt};

/// Runs a statement kept prepared: every commit, import and restore writes
/// row after row through the same few statements, and parsing their SQL
/// again each time was most of a restore's work.
pub(crate) fn run(c: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params)
}

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
    fn plan(&mut self, tx: &Connection, key: &RowKey, collection: &str) -> StoreResult<&Plan> {
        if !self.plans.contains_key(collection) {
            let plan = stored_plan(tx, key, collection)?.unwrap_or_default();
            self.plans.insert(collection.to_owned(), plan);
        }
        Ok(&self.plans[collection])
    }
}

/// The `image` column at `i`: sealed bytes, or the JSON text a release
/// before sealing wrote (read as it is until `seal_stored` seals it).
pub(crate) fn stored_image(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Vec<u8>> {
    Ok(r.get_ref(i)?.as_bytes()?.to_vec())
}

/// The search plan of a stored collection; `None` when there is none yet.
fn stored_plan(c: &Connection, key: &RowKey, collection: &str) -> StoreResult<Option<Plan>> {
    let stored: Option<Vec<u8>> = c
        .prepare_cached("SELECT image FROM collections WHERE id = ?1")
        .and_then(|mut s| s.query_row([collection], |r| stored_image(r, 0)).optional())
        .map_err(backend)?;
    stored
        .map(|image| {
            let plain = key.open_row(Table::Collections, collection, &image)?;
            let row: valv_store::CollectionRow = serde_json::from_slice(&plain).map_err(corrupt)?;
            Ok(Plan::of(&row.fields))
        })
        .transpose()
}

/// A record's field values, read from its image without the rest of it.
fn record_data(json: &str) -> StoreResult<serde_json::Value> {
    #[derive(serde::Deserialize)]
    struct Data {
        data: serde_json::Value,
    }
    Ok(serde_json::from_str::<Data>(json).map_err(corrupt)?.data)
}

/// Writes one row image. An update never moves a row to another tenant.
pub(crate) fn upsert(tx: &Transaction<'_>, s: &mut Sealing, row: &Row) -> StoreResult<()> {
    upsert_image(tx, s, &RowImage::new(row).map_err(corrupt)?)
}

/// Refuses with `Stale` unless `row` is stored exactly as given (`Change::expecting`).
pub(crate) fn still(tx: &Transaction<'_>, keys: &Keys, row: &Row) -> StoreResult<()> {
    let image = RowImage::new(row).map_err(corrupt)?;
    let (table, id) = image.keys.locator().ok_or(StoreError::Stale("file_versions"))?;
    let sql = format!("SELECT image FROM {table} WHERE id = ?1");
    let stored: Option<Vec<u8>> = tx.query_row(&sql, [id], |r| stored_image(r, 0)).optional().map_err(backend)?;
    let key = keys.get(image.keys.owner()?)?;
    let same = match stored {
        Some(sealed) => key.open_row(image.keys.table(), id, &sealed)? == image.json.as_bytes(),
        None => false,
    };
    if same { Ok(()) } else { Err(StoreError::Stale(table)) }
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

/// Writes a row's columns and sealed image (a replay's come ready, see `ReplayEntry`).
pub(crate) fn upsert_image(tx: &Transaction<'_>, s: &mut Sealing, image: &RowImage) -> StoreResult<()> {
    let key = s.keys.shared(image.keys.owner()?)?;
    let key = key.as_ref();
    let sealed = image.sealed(key);
    let changed = match &image.keys {
        RowKeys::Tenant { id, slug } => run(
            tx,
            "INSERT INTO tenants (id, slug, image) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, image = excluded.image",
            params![id, slug, sealed],
        ),
        RowKeys::User { id, tenant_id, email_norm } => run(
            tx,
            "INSERT INTO users (id, tenant_id, email_norm, image) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, image = excluded.image
             WHERE users.tenant_id = excluded.tenant_id",
            params![id, tenant_id, key.blind("email", email_norm), sealed],
        ),
        RowKeys::Operator { id, email_norm } => run(
            tx,
            "INSERT INTO operators (id, email_norm, image) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET email_norm = excluded.email_norm, image = excluded.image",
            params![id, key.blind("email", email_norm), sealed],
        ),
        RowKeys::Token { id, tenant_id, user_id } => run(
            tx,
            "INSERT INTO tokens (id, tenant_id, user_id, image) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET image = excluded.image
             WHERE tokens.tenant_id = excluded.tenant_id AND tokens.user_id = excluded.user_id",
            params![id, tenant_id, user_id, sealed],
        ),
        RowKeys::Collection { id, tenant_id, name } => {
            reindex_if_replanned(tx, s, key, id, &image.json)?;
            run(
                tx,
                "INSERT INTO collections (id, tenant_id, name, image) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, image = excluded.image
                 WHERE collections.tenant_id = excluded.tenant_id",
                params![id, tenant_id, key.blind("collection", name), sealed],
            )
        }
        RowKeys::Record { id, tenant_id, collection_id, deleted } => {
            let search = search_column(tx, s, key, collection_id, &image.json)?;
            run(
                tx,
                "INSERT INTO records (id, tenant_id, collection_id, deleted, image, search)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET deleted = excluded.deleted, image = excluded.image,
                   search = excluded.search
                 WHERE records.tenant_id = excluded.tenant_id AND records.collection_id = excluded.collection_id",
                params![id, tenant_id, collection_id, deleted, sealed, search],
            )
        }
        RowKeys::File { id, tenant_id, folder, name, deleted } => run(
            tx,
            "INSERT INTO files (id, tenant_id, folder, name, deleted, image) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET folder = excluded.folder, name = excluded.name,
               deleted = excluded.deleted, image = excluded.image
             WHERE files.tenant_id = excluded.tenant_id",
            params![id, tenant_id, key.blind("folder", folder), key.blind("file", name), deleted, sealed],
        ),
        RowKeys::Request { id, tenant_id } => run(
            tx,
            "INSERT INTO requests (id, tenant_id, image) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET image = excluded.image WHERE requests.tenant_id = excluded.tenant_id",
            params![id, tenant_id, sealed],
        ),
        // Versions are immutable: a plain insert, so a second writer of the same number fails.
        RowKeys::FileVersion { file_id, version, tenant_id, size } => run(
            tx,
            "INSERT INTO file_versions (file_id, version, tenant_id, size, image) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![file_id, version, tenant_id, size, sealed],
        ),
    }
    .map_err(backend)?;
    if changed == 1 { Ok(()) } else { Err(StoreError::Conflict(Constraint::RowOwnerMismatch)) }
}

/// The `search` column of a record image in `collection`.
fn search_column(tx: &Connection, s: &mut Sealing, key: &RowKey, collection: &str, json: &str) -> StoreResult<String> {
    let plan = s.plan(tx, key, collection)?;
    if *plan == Plan::default() {
        return Ok("{}".to_owned());
    }
    Ok(plan.column(&record_data(json)?, key))
}

/// Before a collection is written: when its fields now ask for another
/// search column (a field marked personal, a reference added), rewrites
/// the column of every record it holds, in the same transaction.
fn reindex_if_replanned(
    tx: &Connection,
    s: &mut Sealing,
    key: &RowKey,
    collection: &str,
    json: &str,
) -> StoreResult<()> {
    let row: valv_store::CollectionRow = serde_json::from_str(json).map_err(corrupt)?;
    let plan = Plan::of(&row.fields);
    let before = stored_plan(tx, key, collection)?;
    if before.as_ref().is_some_and(|b| *b != plan) {
        let records: Vec<(String, Vec<u8>)> = {
            let mut q = tx.prepare("SELECT id, image FROM records WHERE collection_id = ?1").map_err(backend)?;
            q.query_map([collection], |r| Ok((r.get(0)?, stored_image(r, 1)?)))
                .map_err(backend)?
                .collect::<Result<_, _>>()
                .map_err(backend)?
        };
        for (id, image) in records {
            let plain = key.open_row(Table::Records, &id, &image)?;
            let data = record_data(std::str::from_utf8(&plain).map_err(corrupt)?)?;
            run(tx, "UPDATE records SET search = ?1 WHERE id = ?2", params![plan.column(&data, key), id])
                .map_err(backend)?;
        }
    }
    s.plans.insert(collection.to_owned(), plan);
    Ok(())
}

/// The owner, key and image of a row read as `(tenant_id, id, image)`.
fn sealed_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Option<String>, String, Vec<u8>)> {
    Ok((r.get(0)?, r.get(1)?, stored_image(r, 2)?))
}

fn to_sealed((tenant, id, image): (Option<String>, String, Vec<u8>)) -> StoreResult<Sealed> {
    Ok(Sealed { owner: KeyOwner::of_column(tenant.as_deref())?, id, image })
}

/// One row as stored, by a query returning `tenant_id` (NULL for the
/// provider's tables), the row's key and `image`.
pub(crate) fn one(c: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> StoreResult<Option<Sealed>> {
    let row = c.prepare_cached(sql).and_then(|mut s| s.query_row(args, sealed_row).optional()).map_err(backend)?;
    row.map(to_sealed).transpose()
}

/// All rows as stored of a query shaped as for [`one`].
pub(crate) fn many(c: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> StoreResult<Vec<Sealed>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let rows = stmt.query_map(args, sealed_row).map_err(backend)?.collect::<Result<Vec<_>, _>>().map_err(backend)?;
    rows.into_iter().map(to_sealed).collect()
}
