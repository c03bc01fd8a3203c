//! `impl Store for PgStore`: each method runs one short piece of SQL, or
//! one transaction for the writes of journaled state.

use valv_domain::{CollectionId, Email, FileId, OperatorId, RecordId, Slug, TenantId, UserId};
use valv_store::{
    BackupRun, Chain, ChainHead, Change, CollectionRow, DumpItem, DumpSink, FileRow, FileVersionRow, HistoryItem,
    JobRun, JournalEntry, JournalQuery, LedgerRow, OperatorRow, Position, Principal, RecordQuery, RecordRow,
    ReplayEntry, RequestRow, SessionRow, Store, StoreResult, TargetState, TenantRow, Throttle, TokenId, TokenRow,
    UserRow,
};

use crate::entities::{many, one, rows};
use crate::{PgStore, backend, backup, ephemeral, jobs, journal, records, uint};

#[async_trait::async_trait]
impl Store for PgStore {
    async fn commit_all(&self, changes: Vec<Change>) -> StoreResult<Vec<JournalEntry>> {
        self.apply(changes).await
    }

    async fn commit_from(&self, source: valv_store::ChangeSource) -> StoreResult<u64> {
        self.apply_from(source).await
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<TenantRow>> {
        one(&self.pool, rows("SELECT row_json FROM tenants WHERE id = $1").bind(id.to_string())).await
    }

    async fn tenant_by_slug(&self, slug: &Slug) -> StoreResult<Option<TenantRow>> {
        one(&self.pool, rows("SELECT row_json FROM tenants WHERE slug = $1").bind(slug.as_str())).await
    }

    async fn tenants(&self) -> StoreResult<Vec<TenantRow>> {
        many(&self.pool, rows("SELECT row_json FROM tenants ORDER BY id")).await
    }

    async fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<UserRow>> {
        let q = rows("SELECT row_json FROM users WHERE tenant_id = $1 AND id = $2");
        one(&self.pool, q.bind(tenant.to_string()).bind(id.to_string())).await
    }

    async fn user_by_email(&self, tenant: TenantId, email: &Email) -> StoreResult<Option<UserRow>> {
        let q = rows("SELECT row_json FROM users WHERE tenant_id = $1 AND email_norm = $2");
        one(&self.pool, q.bind(tenant.to_string()).bind(email.normalized())).await
    }

    async fn users(&self, tenant: TenantId) -> StoreResult<Vec<UserRow>> {
        many(&self.pool, rows("SELECT row_json FROM users WHERE tenant_id = $1 ORDER BY id").bind(tenant.to_string()))
            .await
    }

    async fn operator(&self, id: OperatorId) -> StoreResult<Option<OperatorRow>> {
        one(&self.pool, rows("SELECT row_json FROM operators WHERE id = $1").bind(id.to_string())).await
    }

    async fn operator_by_email(&self, email: &Email) -> StoreResult<Option<OperatorRow>> {
        one(&self.pool, rows("SELECT row_json FROM operators WHERE email_norm = $1").bind(email.normalized())).await
    }

    async fn operator_count(&self) -> StoreResult<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM operators").fetch_one(&self.pool).await.map_err(backend)?;
        uint(n)
    }

    async fn token(&self, id: TokenId) -> StoreResult<Option<TokenRow>> {
        one(&self.pool, rows("SELECT row_json FROM tokens WHERE id = $1").bind(id.to_string())).await
    }

    async fn tokens(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<TokenRow>> {
        let q = rows("SELECT row_json FROM tokens WHERE tenant_id = $1 AND user_id = $2 ORDER BY id");
        many(&self.pool, q.bind(tenant.to_string()).bind(user.to_string())).await
    }

    async fn put_session(&self, session: SessionRow) -> StoreResult<()> {
        ephemeral::put_session(&self.pool, &session).await
    }

    async fn session(&self, id: &str) -> StoreResult<Option<SessionRow>> {
        ephemeral::session(&self.pool, id).await
    }

    async fn delete_session(&self, id: &str) -> StoreResult<()> {
        ephemeral::delete_session(&self.pool, id).await
    }

    async fn delete_sessions(&self, principal: Principal, keep: Option<&str>) -> StoreResult<()> {
        ephemeral::delete_sessions(&self.pool, principal, keep).await
    }

    async fn throttle(&self, key: &str) -> StoreResult<Option<Throttle>> {
        ephemeral::throttle(&self.pool, key).await
    }

    async fn add_failure(&self, key: &str) -> StoreResult<u32> {
        ephemeral::add_failure(&self.pool, key).await
    }

    async fn lock_throttle(&self, key: &str, until: time::OffsetDateTime) -> StoreResult<()> {
        ephemeral::lock_throttle(&self.pool, key, until).await
    }

    async fn count_call(&self, key: &str, now: time::OffsetDateTime, window: time::Duration) -> StoreResult<Throttle> {
        ephemeral::count_call(&self.pool, key, now, window).await
    }

    async fn clear_throttle(&self, key: &str) -> StoreResult<()> {
        ephemeral::clear_throttle(&self.pool, key).await
    }

    async fn put_setup_token(&self, digest: &str) -> StoreResult<()> {
        ephemeral::put_setup_token(&self.pool, digest).await
    }

    async fn take_setup_token(&self, digest: &str) -> StoreResult<bool> {
        ephemeral::take_setup_token(&self.pool, digest).await
    }

    async fn journal(&self, chain: Chain, query: &JournalQuery) -> StoreResult<Vec<JournalEntry>> {
        journal::query(&self.pool, &chain.key(), query).await
    }

    async fn chain_heads(&self) -> StoreResult<Vec<(String, ChainHead)>> {
        let mut c = self.pool.acquire().await.map_err(backend)?;
        journal::heads(&mut c).await
    }

    async fn chain_page(&self, key: &str, after: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
        journal::chain_page(&self.pool, key, after, limit, true).await
    }

    async fn chain_links(&self, key: &str, after: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
        journal::chain_page(&self.pool, key, after, limit, false).await
    }

    async fn chain_keys(&self) -> StoreResult<Vec<String>> {
        journal::keys(&self.pool).await
    }

    async fn history(&self, tenant: TenantId, entity: &str, entity_id: &str) -> StoreResult<Vec<JournalEntry>> {
        journal::history(&self.pool, &tenant.to_string(), entity, entity_id).await
    }

    async fn histories(&self, tenant: TenantId, entity: &str, ids: Vec<String>) -> StoreResult<Vec<HistoryItem>> {
        journal::histories(&self.pool, &tenant.to_string(), entity, &ids).await
    }

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

    async fn purge_tenant(&self, tenant: TenantId, change: Change) -> StoreResult<Vec<(String, u64)>> {
        let mut tx = self.write_tx().await?;
        let counts = backup::purge_rows(&mut tx, &tenant.to_string()).await?;
        for row in &change.rows {
            crate::entities::upsert(&mut tx, row).await?;
        }
        journal::Appender::new(&mut tx).await?.append(&mut tx, &change).await?;
        tx.commit().await.map_err(backend)?;
        Ok(counts)
    }

    async fn erase(
        &self,
        tenant: TenantId,
        erasure_id: &str,
        entity_ids: Vec<(String, String)>,
        files: Vec<FileId>,
        ledger: serde_json::Value,
        change: Change,
    ) -> StoreResult<JournalEntry> {
        crate::erase(self, tenant, erasure_id, &entity_ids, &files, &ledger, &change).await
    }

    async fn request(&self, tenant: TenantId, id: &str) -> StoreResult<Option<RequestRow>> {
        let q = rows("SELECT row_json FROM requests WHERE tenant_id = $1 AND id = $2");
        one(&self.pool, q.bind(tenant.to_string()).bind(id)).await
    }

    async fn requests(&self, tenant: TenantId) -> StoreResult<Vec<RequestRow>> {
        let q = rows("SELECT row_json FROM requests WHERE tenant_id = $1 ORDER BY id");
        many(&self.pool, q.bind(tenant.to_string())).await
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

    async fn journal_seq(&self) -> StoreResult<u64> {
        let mut c = self.pool.acquire().await.map_err(backend)?;
        journal::last_seq(&mut c).await
    }

    async fn journal_after(&self, seq: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
        backup::journal_after(&self.pool, seq, limit).await
    }

    async fn dump(&self, mut sink: DumpSink) -> StoreResult<Position> {
        // The sink may block (it hands items to the backup's writer): it runs
        // on the blocking pool, fed through a bounded channel.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<DumpItem>(1024);
        let reader = tokio::task::spawn_blocking(move || {
            while let Some(item) = rx.blocking_recv() {
                sink(item)?;
            }
            Ok::<_, valv_store::StoreError>(())
        });
        let walked = async move {
            let mut t = self.snapshot().await?;
            let position = backup::walk(&mut t, Some(&tx)).await?;
            t.commit().await.map_err(backend)?;
            Ok::<_, valv_store::StoreError>(position)
        }
        .await;
        // The sink's own error says more than the walk's "reader stopped".
        reader.await.map_err(|e| valv_store::StoreError::Backend(e.to_string()))??;
        walked
    }

    async fn state_digest(&self) -> StoreResult<Position> {
        let mut tx = self.snapshot().await?;
        let position = backup::walk(&mut tx, None).await?;
        tx.commit().await.map_err(backend)?;
        Ok(position)
    }

    async fn load(&self, items: Vec<DumpItem>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        backup::load(&mut tx, items).await?;
        tx.commit().await.map_err(backend)
    }

    async fn replay(&self, entries: Vec<ReplayEntry>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        backup::replay(&mut tx, entries).await?;
        tx.commit().await.map_err(backend)
    }

    async fn erasure_ledger(&self) -> StoreResult<Vec<LedgerRow>> {
        let mut c = self.pool.acquire().await.map_err(backend)?;
        backup::ledger(&mut c).await
    }

    async fn put_ledger(&self, rows: Vec<LedgerRow>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        for l in &rows {
            backup::put_ledger(&mut tx, l).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn backup_targets(&self) -> StoreResult<Vec<TargetState>> {
        backup::targets(&self.pool).await
    }

    async fn put_backup_target(&self, state: TargetState) -> StoreResult<()> {
        backup::put_target(&self.pool, &state).await
    }

    async fn backup_runs(&self, limit: u32) -> StoreResult<Vec<BackupRun>> {
        backup::runs(&self.pool, limit).await
    }

    async fn add_backup_run(&self, run: BackupRun) -> StoreResult<()> {
        backup::add_run(&self.pool, &run).await
    }

    async fn job_runs(&self) -> StoreResult<Vec<JobRun>> {
        jobs::runs(&self.pool).await
    }

    async fn put_job_run(&self, run: JobRun) -> StoreResult<()> {
        jobs::put(&self.pool, &run).await
    }

    async fn lead(&self) -> StoreResult<bool> {
        self.leader.lead(&self.pool).await
    }
}
