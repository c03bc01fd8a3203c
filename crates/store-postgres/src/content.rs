//! Content on PostgreSQL: collections, records (queries in `records`), files and
//! their versions, and the chunks they refer to. Names and paths are sealed:
//! looked up by their blind indexes, sorted once opened.

use crate::entities::{many, one, rows};
use crate::{PgStore, backend, records, uint};
use valv_domain::{CollectionId, FileId, RecordId, TenantId};
use valv_store::search::{Plan, finish};
use valv_store::{CollectionRow, FileRow, FileVersionRow, RecordQuery, RecordRow, StoreResult};
use valv_store::{ContentStore, KeyOwner, Table};

#[async_trait::async_trait]
impl ContentStore for PgStore {
    async fn collection(&self, tenant: TenantId, id: CollectionId) -> StoreResult<Option<CollectionRow>> {
        let q = rows("SELECT tenant_id, id, image FROM collections WHERE tenant_id = $1 AND id = $2");
        let row = one(&self.pool, q.bind(tenant.to_string()).bind(id.to_string())).await?;
        self.vault.open_one(Table::Collections, row).await
    }

    async fn collection_by_name(&self, tenant: TenantId, name: &str) -> StoreResult<Option<CollectionRow>> {
        let blind = self.vault.key(KeyOwner::Tenant(tenant)).await?.blind("collection", name);
        let q = rows("SELECT tenant_id, id, image FROM collections WHERE tenant_id = $1 AND name = $2");
        let row = one(&self.pool, q.bind(tenant.to_string()).bind(blind)).await?;
        self.vault.open_one(Table::Collections, row).await
    }

    async fn collections(&self, tenant: TenantId) -> StoreResult<Vec<CollectionRow>> {
        let q = rows("SELECT tenant_id, id, image FROM collections WHERE tenant_id = $1");
        let rows = many(&self.pool, q.bind(tenant.to_string())).await?;
        // Names are sealed: sorted once opened (bytewise, as `COLLATE "C"` did).
        let mut out: Vec<CollectionRow> = self.vault.open(Table::Collections, rows).await?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn index_fields(&self, collection: CollectionId, fields: Vec<(String, bool)>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        records::index(&mut tx, collection, &fields).await?;
        tx.commit().await.map_err(backend)
    }

    async fn record(&self, tenant: TenantId, id: RecordId) -> StoreResult<Option<RecordRow>> {
        let q = rows("SELECT tenant_id, id, image FROM records WHERE tenant_id = $1 AND id = $2");
        let row = one(&self.pool, q.bind(tenant.to_string()).bind(id.to_string())).await?;
        self.vault.open_one(Table::Records, row).await
    }

    async fn records(
        &self,
        tenant: TenantId,
        collection: CollectionId,
        query: &RecordQuery,
    ) -> StoreResult<Vec<RecordRow>> {
        let Some(coll) = self.collection(tenant, collection).await? else { return Ok(Vec::new()) };
        let key = self.vault.key(KeyOwner::Tenant(tenant)).await?;
        let split = Plan::of(&coll.fields).split(query, &key);
        let rows = records::query(&self.pool, tenant, collection, query, &split).await?;
        let rows: Vec<RecordRow> = self.vault.open(Table::Records, rows).await?;
        Ok(if split.exact { rows } else { finish(rows, query) })
    }

    async fn record_ids(
        &self,
        tenant: TenantId,
        collection: CollectionId,
        after: Option<RecordId>,
        limit: u32,
    ) -> StoreResult<Vec<RecordId>> {
        records::ids(&self.pool, tenant, collection, after, limit).await
    }

    async fn count_records(
        &self,
        tenant: TenantId,
        collection: CollectionId,
        include_deleted: bool,
    ) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM records WHERE tenant_id = $1 AND collection_id = $2 AND ($3 OR NOT deleted)",
        )
        .bind(tenant.to_string())
        .bind(collection.to_string())
        .bind(include_deleted)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        uint(n)
    }

    async fn file(&self, tenant: TenantId, id: FileId) -> StoreResult<Option<FileRow>> {
        let q = rows("SELECT tenant_id, id, image FROM files WHERE tenant_id = $1 AND id = $2");
        let row = one(&self.pool, q.bind(tenant.to_string()).bind(id.to_string())).await?;
        self.vault.open_one(Table::Files, row).await
    }

    async fn files(&self, tenant: TenantId, folder: Option<&str>) -> StoreResult<Vec<FileRow>> {
        let key = self.vault.key(KeyOwner::Tenant(tenant)).await?;
        let folder = folder.map(|f| key.blind("folder", f));
        let q = rows(
            "SELECT tenant_id, id, image FROM files
             WHERE tenant_id = $1 AND NOT deleted AND ($2::TEXT IS NULL OR folder = $2)",
        );
        let rows = many(&self.pool, q.bind(tenant.to_string()).bind(folder)).await?;
        // Paths are sealed: sorted once opened.
        let mut out: Vec<FileRow> = self.vault.open(Table::Files, rows).await?;
        out.sort_by(|a, b| (a.folder.as_str(), a.name.as_str()).cmp(&(b.folder.as_str(), b.name.as_str())));
        Ok(out)
    }

    async fn all_files(&self, tenant: TenantId) -> StoreResult<Vec<FileRow>> {
        let q = rows("SELECT tenant_id, id, image FROM files WHERE tenant_id = $1 ORDER BY id");
        let rows = many(&self.pool, q.bind(tenant.to_string())).await?;
        self.vault.open(Table::Files, rows).await
    }

    async fn file_versions(&self, tenant: TenantId, file: FileId) -> StoreResult<Vec<FileVersionRow>> {
        let q = rows(
            "SELECT tenant_id, file_id || '/' || version, image FROM file_versions
             WHERE tenant_id = $1 AND file_id = $2 ORDER BY version",
        );
        let rows = many(&self.pool, q.bind(tenant.to_string()).bind(file.to_string())).await?;
        self.vault.open(Table::FileVersions, rows).await
    }

    async fn tenant_bytes(&self, tenant: TenantId) -> StoreResult<u64> {
        // SUM of BIGINT is NUMERIC in PostgreSQL: cast back for the driver.
        let n: i64 =
            sqlx::query_scalar("SELECT COALESCE(SUM(size), 0)::BIGINT FROM file_versions WHERE tenant_id = $1")
                .bind(tenant.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
        uint(n)
    }

    async fn referenced_chunks(&self, tenant: TenantId) -> StoreResult<Vec<String>> {
        // The chunk lists are sealed in the versions' images: opened here.
        let q = rows("SELECT tenant_id, file_id || '/' || version, image FROM file_versions WHERE tenant_id = $1");
        let rows = many(&self.pool, q.bind(tenant.to_string())).await?;
        let versions: Vec<FileVersionRow> = self.vault.open(Table::FileVersions, rows).await?;
        let ids: std::collections::BTreeSet<String> =
            versions.into_iter().flat_map(|v| v.chunks.into_iter().map(|c| c.id)).collect();
        Ok(ids.into_iter().collect())
    }
}
