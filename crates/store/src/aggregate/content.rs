//! Content: collections, records, files and their versions.

use valv_domain::{CollectionId, FileId, RecordId, TenantId};

use crate::{CollectionRow, FileRow, FileVersionRow, RecordQuery, RecordRow, StoreResult};

/// Content: collections, records, files and their versions.
#[async_trait::async_trait]
pub trait ContentStore: Send + Sync + 'static {
    async fn collection(&self, tenant: TenantId, id: CollectionId) -> StoreResult<Option<CollectionRow>>;

    async fn collection_by_name(&self, tenant: TenantId, name: &str) -> StoreResult<Option<CollectionRow>>;

    async fn collections(&self, tenant: TenantId) -> StoreResult<Vec<CollectionRow>>;

    /// Indexes fields of a collection that records are looked up by; `true`
    /// indexes the lower-cased value (e-mail addresses).
    async fn index_fields(&self, collection: CollectionId, fields: Vec<(String, bool)>) -> StoreResult<()>;

    async fn record(&self, tenant: TenantId, id: RecordId) -> StoreResult<Option<RecordRow>>;

    /// Records of one collection matching `query`.
    async fn records(
        &self,
        tenant: TenantId,
        collection: CollectionId,
        query: &RecordQuery,
    ) -> StoreResult<Vec<RecordRow>>;

    /// Ids of one collection's records, deleted ones too, in order after
    /// `after` (from an index alone: the export reads a million).
    async fn record_ids(
        &self,
        tenant: TenantId,
        collection: CollectionId,
        after: Option<RecordId>,
        limit: u32,
    ) -> StoreResult<Vec<RecordId>>;

    /// Records of one collection: live ones, or all with `include_deleted`.
    async fn count_records(
        &self,
        tenant: TenantId,
        collection: CollectionId,
        include_deleted: bool,
    ) -> StoreResult<u64>;

    async fn file(&self, tenant: TenantId, id: FileId) -> StoreResult<Option<FileRow>>;

    /// Live files, in one folder or everywhere.
    async fn files(&self, tenant: TenantId, folder: Option<&str>) -> StoreResult<Vec<FileRow>>;

    /// Every file, deleted ones included (their versions are kept), by id.
    async fn all_files(&self, tenant: TenantId) -> StoreResult<Vec<FileRow>>;

    /// Every version of a file, oldest first.
    async fn file_versions(&self, tenant: TenantId, file: FileId) -> StoreResult<Vec<FileVersionRow>>;

    /// Bytes of every version of every file of the tenant (the storage quota counts these).
    async fn tenant_bytes(&self, tenant: TenantId) -> StoreResult<u64>;

    /// Ids of every chunk any version of the tenant refers to.
    async fn referenced_chunks(&self, tenant: TenantId) -> StoreResult<Vec<String>>;
}
