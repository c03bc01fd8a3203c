//! Content on SQLite: collections, records (queries in `records`), files and
//! their versions, and the chunks they refer to.

use crate::entities::{many, one};
use crate::{SqliteStore, backend, records};
use std::sync::PoisonError;
use valv_domain::{CollectionId, FileId, RecordId, TenantId};
use valv_store::ContentStore;
use valv_store::{CollectionRow, FileRow, FileVersionRow, RecordQuery, RecordRow, StoreResult};

#[async_trait::async_trait]
impl ContentStore for SqliteStore {
    async fn collection(&self, tenant: TenantId, id: CollectionId) -> StoreResult<Option<CollectionRow>> {
        self.read(move |c| {
            one(
                c,
                "SELECT row_json FROM collections WHERE tenant_id = ?1 AND id = ?2",
                &[&tenant.to_string(), &id.to_string()],
            )
        })
        .await
    }

    async fn collection_by_name(&self, tenant: TenantId, name: &str) -> StoreResult<Option<CollectionRow>> {
        let name = name.to_owned();
        self.read(move |c| {
            one(c, "SELECT row_json FROM collections WHERE tenant_id = ?1 AND name = ?2", &[&tenant.to_string(), &name])
        })
        .await
    }

    async fn collections(&self, tenant: TenantId) -> StoreResult<Vec<CollectionRow>> {
        self.read(move |c| {
            many(c, "SELECT row_json FROM collections WHERE tenant_id = ?1 ORDER BY name", &[&tenant.to_string()])
        })
        .await
    }

    async fn record(&self, tenant: TenantId, id: RecordId) -> StoreResult<Option<RecordRow>> {
        self.read(move |c| {
            one(
                c,
                "SELECT row_json FROM records WHERE tenant_id = ?1 AND id = ?2",
                &[&tenant.to_string(), &id.to_string()],
            )
        })
        .await
    }

    async fn records(
        &self,
        tenant: TenantId,
        collection: CollectionId,
        query: &RecordQuery,
    ) -> StoreResult<Vec<RecordRow>> {
        let q = query.clone();
        self.read(move |c| records::query(c, tenant, collection, &q)).await
    }

    async fn record_ids(
        &self,
        tenant: TenantId,
        collection: CollectionId,
        after: Option<RecordId>,
        limit: u32,
    ) -> StoreResult<Vec<RecordId>> {
        self.read(move |c| records::ids(c, tenant, collection, after, limit)).await
    }

    async fn count_records(
        &self,
        tenant: TenantId,
        collection: CollectionId,
        include_deleted: bool,
    ) -> StoreResult<u64> {
        self.read(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM records WHERE tenant_id = ?1 AND collection_id = ?2 AND (?3 OR deleted = 0)",
                rusqlite::params![tenant.to_string(), collection.to_string(), include_deleted],
                |r| r.get(0),
            )
            .map_err(backend)
        })
        .await
    }

    async fn file(&self, tenant: TenantId, id: FileId) -> StoreResult<Option<FileRow>> {
        self.read(move |c| {
            one(
                c,
                "SELECT row_json FROM files WHERE tenant_id = ?1 AND id = ?2",
                &[&tenant.to_string(), &id.to_string()],
            )
        })
        .await
    }

    async fn files(&self, tenant: TenantId, folder: Option<&str>) -> StoreResult<Vec<FileRow>> {
        let folder = folder.map(str::to_owned);
        self.read(move |c| {
            many(
                c,
                "SELECT row_json FROM files WHERE tenant_id = ?1 AND deleted = 0 AND (?2 IS NULL OR folder = ?2)
                 ORDER BY folder, name",
                &[&tenant.to_string(), &folder],
            )
        })
        .await
    }

    async fn all_files(&self, tenant: TenantId) -> StoreResult<Vec<FileRow>> {
        self.read(move |c| {
            many(c, "SELECT row_json FROM files WHERE tenant_id = ?1 ORDER BY id", &[&tenant.to_string()])
        })
        .await
    }

    async fn file_versions(&self, tenant: TenantId, file: FileId) -> StoreResult<Vec<FileVersionRow>> {
        self.read(move |c| {
            many(
                c,
                "SELECT row_json FROM file_versions WHERE tenant_id = ?1 AND file_id = ?2 ORDER BY version",
                &[&tenant.to_string(), &file.to_string()],
            )
        })
        .await
    }

    async fn tenant_bytes(&self, tenant: TenantId) -> StoreResult<u64> {
        self.read(move |c| {
            c.query_row(
                "SELECT COALESCE(SUM(size), 0) FROM file_versions WHERE tenant_id = ?1",
                [tenant.to_string()],
                |r| r.get(0),
            )
            .map_err(backend)
        })
        .await
    }

    async fn referenced_chunks(&self, tenant: TenantId) -> StoreResult<Vec<String>> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT DISTINCT json_extract(j.value, '$.id') FROM file_versions v,
                       json_each(json_extract(v.row_json, '$.chunks')) j WHERE v.tenant_id = ?1",
                )
                .map_err(backend)?;
            let rows = stmt.query_map([tenant.to_string()], |r| r.get(0)).map_err(backend)?;
            rows.collect::<Result<Vec<String>, _>>().map_err(backend)
        })
        .await
    }

    async fn index_fields(&self, collection: CollectionId, fields: Vec<(String, bool)>) -> StoreResult<()> {
        let statements = records::index(collection, &fields)?;
        // A database being restored builds them with the others, once its rows are in.
        if let Some(deferred) = self.deferred.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            deferred.extend(statements);
            return Ok(());
        }
        self.write(move |c| c.execute_batch(&statements.join(";\n")).map_err(backend)).await
    }
}
