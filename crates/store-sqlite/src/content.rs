//! Content on SQLite: collections, records (queries in `records`), files and
//! their versions, and the chunks they refer to.

use crate::entities::{many, one};
use crate::{SqliteStore, backend, records};
use std::sync::PoisonError;
use valv_domain::{CollectionId, FileId, RecordId, TenantId};
use valv_store::{CollectionRow, FileRow, FileVersionRow, RecordQuery, RecordRow, StoreResult};
use valv_store::{ContentStore, KeyOwner, Table};

#[async_trait::async_trait]
impl ContentStore for SqliteStore {
    async fn collection(&self, tenant: TenantId, id: CollectionId) -> StoreResult<Option<CollectionRow>> {
        let row = self.read(move |c| {
            one(
                c,
                "SELECT tenant_id, id, image FROM collections WHERE tenant_id = ?1 AND id = ?2",
                &[&tenant.to_string(), &id.to_string()],
            )
        });
        self.vault.open_one(Table::Collections, row.await?).await
    }

    async fn collection_by_name(&self, tenant: TenantId, name: &str) -> StoreResult<Option<CollectionRow>> {
        let blind = self.vault.key(KeyOwner::Tenant(tenant)).await?.blind("collection", name);
        let row = self.read(move |c| {
            one(
                c,
                "SELECT tenant_id, id, image FROM collections WHERE tenant_id = ?1 AND name = ?2",
                &[&tenant.to_string(), &blind],
            )
        });
        self.vault.open_one(Table::Collections, row.await?).await
    }

    async fn collections(&self, tenant: TenantId) -> StoreResult<Vec<CollectionRow>> {
        let rows = self.read(move |c| {
            many(c, "SELECT tenant_id, id, image FROM collections WHERE tenant_id = ?1", &[&tenant.to_string()])
        });
        // Names are sealed: sorted once opened.
        let mut out: Vec<CollectionRow> = self.vault.open(Table::Collections, rows.await?).await?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn record(&self, tenant: TenantId, id: RecordId) -> StoreResult<Option<RecordRow>> {
        let row = self.read(move |c| {
            one(
                c,
                "SELECT tenant_id, id, image FROM records WHERE tenant_id = ?1 AND id = ?2",
                &[&tenant.to_string(), &id.to_string()],
            )
        });
        self.vault.open_one(Table::Records, row.await?).await
    }

    async fn records(
        &self,
        tenant: TenantId,
        collection: CollectionId,
        query: &RecordQuery,
    ) -> StoreResult<Vec<RecordRow>> {
        let Some(coll) = self.collection(tenant, collection).await? else { return Ok(Vec::new()) };
        let key = self.vault.key(KeyOwner::Tenant(tenant)).await?;
        let split = valv_store::search::Plan::of(&coll.fields).split(query, &key);
        let q = query.clone();
        let exact = split.exact;
        let rows = self.read(move |c| records::query(c, tenant, collection, &q, &split)).await?;
        let rows: Vec<RecordRow> = self.vault.open(Table::Records, rows).await?;
        Ok(if exact { rows } else { valv_store::search::finish(rows, query) })
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
        let row = self.read(move |c| {
            one(
                c,
                "SELECT tenant_id, id, image FROM files WHERE tenant_id = ?1 AND id = ?2",
                &[&tenant.to_string(), &id.to_string()],
            )
        });
        self.vault.open_one(Table::Files, row.await?).await
    }

    async fn files(&self, tenant: TenantId, folder: Option<&str>) -> StoreResult<Vec<FileRow>> {
        let key = self.vault.key(KeyOwner::Tenant(tenant)).await?;
        let folder = folder.map(|f| key.blind("folder", f));
        let rows = self.read(move |c| {
            many(
                c,
                "SELECT tenant_id, id, image FROM files WHERE tenant_id = ?1 AND deleted = 0 AND (?2 IS NULL OR folder = ?2)",
                &[&tenant.to_string(), &folder],
            )
        });
        // Paths are sealed: sorted once opened.
        let mut out: Vec<FileRow> = self.vault.open(Table::Files, rows.await?).await?;
        out.sort_by(|a, b| (a.folder.as_str(), a.name.as_str()).cmp(&(b.folder.as_str(), b.name.as_str())));
        Ok(out)
    }

    async fn all_files(&self, tenant: TenantId) -> StoreResult<Vec<FileRow>> {
        let rows = self.read(move |c| {
            many(c, "SELECT tenant_id, id, image FROM files WHERE tenant_id = ?1 ORDER BY id", &[&tenant.to_string()])
        });
        self.vault.open(Table::Files, rows.await?).await
    }

    async fn file_versions(&self, tenant: TenantId, file: FileId) -> StoreResult<Vec<FileVersionRow>> {
        let rows = self.read(move |c| {
            many(
                c,
                "SELECT tenant_id, file_id || '/' || version, image FROM file_versions
                 WHERE tenant_id = ?1 AND file_id = ?2 ORDER BY version",
                &[&tenant.to_string(), &file.to_string()],
            )
        });
        self.vault.open(Table::FileVersions, rows.await?).await
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
        let rows = self.read(move |c| {
            many(
                c,
                "SELECT tenant_id, file_id || '/' || version, image FROM file_versions WHERE tenant_id = ?1",
                &[&tenant.to_string()],
            )
        });
        let versions: Vec<FileVersionRow> = self.vault.open(Table::FileVersions, rows.await?).await?;
        let ids: std::collections::BTreeSet<String> =
            versions.into_iter().flat_map(|v| v.chunks.into_iter().map(|c| c.id)).collect();
        Ok(ids.into_iter().collect())
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
