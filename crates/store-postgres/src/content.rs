//! Content on PostgreSQL: collections, records (queries in `records`), files and
//! their versions, and the chunks they refer to.

use crate::entities::{many, one, rows};
use crate::{PgStore, backend, records, uint};
use valv_domain::{CollectionId, FileId, RecordId, TenantId};
use valv_store::ContentStore;
use valv_store::{CollectionRow, FileRow, FileVersionRow, RecordQuery, RecordRow, StoreResult};

#[async_trait::async_trait]
impl ContentStore for PgStore {
    async fn collection(&self, tenant: TenantId, id: CollectionId) -> StoreResult<Option<CollectionRow>> {
        let q = rows("SELECT row_json FROM collections WHERE tenant_id = $1 AND id = $2");
        one(&self.pool, q.bind(tenant.to_string()).bind(id.to_string())).await
    }

    async fn collection_by_name(&self, tenant: TenantId, name: &str) -> StoreResult<Option<CollectionRow>> {
        let q = rows("SELECT row_json FROM collections WHERE tenant_id = $1 AND name = $2");
        one(&self.pool, q.bind(tenant.to_string()).bind(name)).await
    }

    async fn collections(&self, tenant: TenantId) -> StoreResult<Vec<CollectionRow>> {
        let q = rows("SELECT row_json FROM collections WHERE tenant_id = $1 ORDER BY name");
        many(&self.pool, q.bind(tenant.to_string())).await
    }

    async fn index_fields(&self, collection: CollectionId, fields: Vec<(String, bool)>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        records::index(&mut tx, collection, &fields).await?;
        tx.commit().await.map_err(backend)
    }

    async fn record(&self, tenant: TenantId, id: RecordId) -> StoreResult<Option<RecordRow>> {
        let q = rows("SELECT row_json FROM records WHERE tenant_id = $1 AND id = $2");
        one(&self.pool, q.bind(tenant.to_string()).bind(id.to_string())).await
    }

    async fn records(
        &self,
        tenant: TenantId,
        collection: CollectionId,
        query: &RecordQuery,
    ) -> StoreResult<Vec<RecordRow>> {
        records::query(&self.pool, tenant, collection, query).await
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
        let q = rows("SELECT row_json FROM files WHERE tenant_id = $1 AND id = $2");
        one(&self.pool, q.bind(tenant.to_string()).bind(id.to_string())).await
    }

    async fn files(&self, tenant: TenantId, folder: Option<&str>) -> StoreResult<Vec<FileRow>> {
        let q = rows(
            "SELECT row_json FROM files WHERE tenant_id = $1 AND NOT deleted AND ($2::TEXT IS NULL OR folder = $2)
             ORDER BY folder, name",
        );
        many(&self.pool, q.bind(tenant.to_string()).bind(folder)).await
    }

    async fn all_files(&self, tenant: TenantId) -> StoreResult<Vec<FileRow>> {
        many(&self.pool, rows("SELECT row_json FROM files WHERE tenant_id = $1 ORDER BY id").bind(tenant.to_string()))
            .await
    }

    async fn file_versions(&self, tenant: TenantId, file: FileId) -> StoreResult<Vec<FileVersionRow>> {
        let q = rows("SELECT row_json FROM file_versions WHERE tenant_id = $1 AND file_id = $2 ORDER BY version");
        many(&self.pool, q.bind(tenant.to_string()).bind(file.to_string())).await
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
        sqlx::query_scalar(
            "SELECT DISTINCT chunk->>'id' FROM file_versions v,
               json_array_elements((v.row_json::json)->'chunks') chunk WHERE v.tenant_id = $1",
        )
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }
}
