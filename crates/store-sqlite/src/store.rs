//! `impl Store for SqliteStore`: each method runs one short piece of SQL.

use std::sync::{Arc, PoisonError};

use valv_domain::{CollectionId, Email, FileId, OperatorId, RecordId, Slug, TenantId, UserId};
use valv_store::{
    BackupRun, Chain, ChainHead, Change, CollectionRow, DumpItem, DumpSink, FileRow, FileVersionRow, HistoryItem,
    JobRun, JournalEntry, JournalQuery, LedgerRow, OperatorRow, Position, Principal, RecordQuery, RecordRow,
    ReplayEntry, RequestRow, SessionRow, Store, StoreResult, TargetState, TenantRow, Throttle, TokenId, TokenRow,
    UserRow,
};

use crate::behind::WriteBehind;
use crate::entities::{many, one};
use crate::{SqliteStore, backend, backup, ephemeral, jobs, journal, records};

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn commit_all(&self, changes: Vec<Change>) -> StoreResult<Vec<JournalEntry>> {
        self.apply(changes).await
    }

    async fn commit_from(&self, source: valv_store::ChangeSource) -> StoreResult<u64> {
        self.apply_from(source).await
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<TenantRow>> {
        self.read(move |c| one(c, "SELECT row_json FROM tenants WHERE id = ?1", &[&id.to_string()])).await
    }

    async fn tenant_by_slug(&self, slug: &Slug) -> StoreResult<Option<TenantRow>> {
        let slug = slug.as_str().to_owned();
        self.read(move |c| one(c, "SELECT row_json FROM tenants WHERE slug = ?1", &[&slug])).await
    }

    async fn tenants(&self) -> StoreResult<Vec<TenantRow>> {
        self.read(|c| many(c, "SELECT row_json FROM tenants ORDER BY id", &[])).await
    }

    async fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<UserRow>> {
        self.read(move |c| {
            one(
                c,
                "SELECT row_json FROM users WHERE tenant_id = ?1 AND id = ?2",
                &[&tenant.to_string(), &id.to_string()],
            )
        })
        .await
    }

    async fn user_by_email(&self, tenant: TenantId, email: &Email) -> StoreResult<Option<UserRow>> {
        let norm = email.normalized();
        self.read(move |c| {
            one(c, "SELECT row_json FROM users WHERE tenant_id = ?1 AND email_norm = ?2", &[&tenant.to_string(), &norm])
        })
        .await
    }

    async fn users(&self, tenant: TenantId) -> StoreResult<Vec<UserRow>> {
        self.read(move |c| {
            many(c, "SELECT row_json FROM users WHERE tenant_id = ?1 ORDER BY id", &[&tenant.to_string()])
        })
        .await
    }

    async fn operator(&self, id: OperatorId) -> StoreResult<Option<OperatorRow>> {
        self.read(move |c| one(c, "SELECT row_json FROM operators WHERE id = ?1", &[&id.to_string()])).await
    }

    async fn operator_by_email(&self, email: &Email) -> StoreResult<Option<OperatorRow>> {
        let norm = email.normalized();
        self.read(move |c| one(c, "SELECT row_json FROM operators WHERE email_norm = ?1", &[&norm])).await
    }

    async fn operator_count(&self) -> StoreResult<u64> {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM operators", [], |r| r.get(0)).map_err(backend)).await
    }

    async fn token(&self, id: TokenId) -> StoreResult<Option<TokenRow>> {
        self.read(move |c| one(c, "SELECT row_json FROM tokens WHERE id = ?1", &[&id.to_string()])).await
    }

    async fn tokens(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<TokenRow>> {
        self.read(move |c| {
            many(
                c,
                "SELECT row_json FROM tokens WHERE tenant_id = ?1 AND user_id = ?2 ORDER BY id",
                &[&tenant.to_string(), &user.to_string()],
            )
        })
        .await
    }

    async fn put_session(&self, session: SessionRow) -> StoreResult<()> {
        self.write(move |c| ephemeral::put_session(c, &session)).await
    }

    async fn session(&self, id: &str) -> StoreResult<Option<SessionRow>> {
        let id = id.to_owned();
        self.read(move |c| ephemeral::session(c, &id)).await
    }

    async fn delete_session(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c| c.execute("DELETE FROM sessions WHERE id = ?1", [id]).map(drop).map_err(backend)).await
    }

    async fn delete_sessions(&self, principal: Principal, keep: Option<&str>) -> StoreResult<()> {
        let keep = keep.map(str::to_owned);
        self.write(move |c| ephemeral::delete_sessions(c, principal, keep.as_deref())).await
    }

    async fn throttle(&self, key: &str) -> StoreResult<Option<Throttle>> {
        let key = key.to_owned();
        self.read(move |c| ephemeral::throttle(c, &key)).await
    }

    async fn add_failure(&self, key: &str) -> StoreResult<u32> {
        let key = key.to_owned();
        self.write(move |c| ephemeral::add_failure(c, &key)).await
    }

    async fn lock_throttle(&self, key: &str, until: time::OffsetDateTime) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |c| ephemeral::lock_throttle(c, &key, until)).await
    }

    async fn count_call(&self, key: &str, now: time::OffsetDateTime, window: time::Duration) -> StoreResult<Throttle> {
        let key = key.to_owned();
        self.write(move |c| ephemeral::count_call(c, &key, now, window)).await
    }

    async fn clear_throttle(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |c| c.execute("DELETE FROM throttles WHERE key = ?1", [key]).map(drop).map_err(backend)).await
    }

    async fn put_setup_token(&self, digest: &str) -> StoreResult<()> {
        let digest = digest.to_owned();
        self.write(move |c| {
            c.execute("INSERT OR REPLACE INTO setup_token (id, digest) VALUES (1, ?1)", [digest])
                .map(drop)
                .map_err(backend)
        })
        .await
    }

    async fn take_setup_token(&self, digest: &str) -> StoreResult<bool> {
        let digest = digest.to_owned();
        self.write(move |c| {
            c.execute("DELETE FROM setup_token WHERE id = 1 AND digest = ?1", [digest]).map(|n| n == 1).map_err(backend)
        })
        .await
    }

    async fn journal(&self, chain: Chain, query: &JournalQuery) -> StoreResult<Vec<JournalEntry>> {
        let q = query.clone();
        self.read(move |c| journal::query(c, &chain.key(), &q)).await
    }

    async fn chain_heads(&self) -> StoreResult<Vec<(String, ChainHead)>> {
        self.read(journal::heads).await
    }

    async fn chain_page(&self, key: &str, after: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
        let key = key.to_owned();
        self.read(move |c| journal::chain_page(c, &key, after, limit, true)).await
    }

    async fn chain_links(&self, key: &str, after: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
        let key = key.to_owned();
        self.read(move |c| journal::chain_page(c, &key, after, limit, false)).await
    }

    async fn chain_keys(&self) -> StoreResult<Vec<String>> {
        self.read(journal::keys).await
    }

    async fn history(&self, tenant: TenantId, entity: &str, entity_id: &str) -> StoreResult<Vec<JournalEntry>> {
        let (entity, id) = (entity.to_owned(), entity_id.to_owned());
        self.read(move |c| journal::history(c, &tenant.to_string(), &entity, &id)).await
    }

    async fn histories(&self, tenant: TenantId, entity: &str, ids: Vec<String>) -> StoreResult<Vec<HistoryItem>> {
        let entity = entity.to_owned();
        self.read(move |c| journal::histories(c, &tenant.to_string(), &entity, &ids)).await
    }

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

    async fn purge_tenant(&self, tenant: TenantId, change: Change) -> StoreResult<Vec<(String, u64)>> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
            let counts = crate::backup::purge_rows(&tx, &tenant.to_string())?;
            for row in &change.rows {
                crate::entities::upsert(&tx, row)?;
            }
            journal::append(&tx, &change)?;
            tx.commit().map_err(backend)?;
            Ok(counts)
        })
        .await
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
        let erasure_id = erasure_id.to_owned();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
            let t = tenant.to_string();
            // (chain, entity, entity_id) is the journal's entity index: each update is a lookup.
            for (entity, id) in &entity_ids {
                tx.execute(
                    "UPDATE journal SET payload = NULL, erased_by = ?1 WHERE chain = ?2 AND entity = ?3 AND entity_id = ?4",
                    rusqlite::params![erasure_id, t, entity, id],
                )
                .map_err(backend)?;
            }
            for f in &files {
                tx.execute("DELETE FROM file_versions WHERE tenant_id = ?1 AND file_id = ?2", [&t, &f.to_string()])
                    .map_err(backend)?;
            }
            for row in &change.rows {
                crate::entities::upsert(&tx, row)?;
            }
            let entry = journal::append(&tx, &change)?;
            tx.execute(
                "INSERT OR IGNORE INTO erasure_ledger (id, tenant_id, at, row_json) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![erasure_id, t, entry.at, ledger.to_string()],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(entry)
        })
        .await
    }

    async fn request(&self, tenant: TenantId, id: &str) -> StoreResult<Option<RequestRow>> {
        let id = id.to_owned();
        self.read(move |c| {
            one(c, "SELECT row_json FROM requests WHERE tenant_id = ?1 AND id = ?2", &[&tenant.to_string(), &id])
        })
        .await
    }

    async fn requests(&self, tenant: TenantId) -> StoreResult<Vec<RequestRow>> {
        self.read(move |c| {
            many(c, "SELECT row_json FROM requests WHERE tenant_id = ?1 ORDER BY id", &[&tenant.to_string()])
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

    async fn journal_seq(&self) -> StoreResult<u64> {
        self.read(|c| c.query_row("SELECT COALESCE(MAX(seq), 0) FROM journal", [], |r| r.get(0)).map_err(backend)).await
    }

    async fn journal_after(&self, seq: u64, limit: u32) -> StoreResult<Vec<JournalEntry>> {
        self.read(move |c| backup::journal_after(c, seq, limit)).await
    }

    async fn dump(&self, mut sink: DumpSink) -> StoreResult<Position> {
        self.read(move |c| backup::walk(c, &mut *sink)).await
    }

    async fn state_digest(&self) -> StoreResult<Position> {
        self.read(|c| backup::walk(c, &mut |_| Ok(()))).await
    }

    async fn flush(&self) -> StoreResult<()> {
        let (behind, deferred) = (self.behind.clone(), Arc::clone(&self.deferred));
        self.write(move |c| {
            let indexes = deferred.lock().unwrap_or_else(PoisonError::into_inner).take().unwrap_or_default();
            // One transaction: the pages the indexes change are written once.
            let tx = c.transaction().map_err(backend)?;
            tx.execute_batch(&indexes.join(";\n")).map_err(backend)?;
            tx.commit().map_err(backend)?;
            crate::conn::make_durable(c, behind.as_ref())
        })
        .await
    }

    async fn load(&self, items: Vec<DumpItem>) -> StoreResult<()> {
        let behind = self.behind.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
            backup::load(&tx, &items)?;
            tx.commit().map_err(backend)?;
            WriteBehind::after_commit(behind.as_ref(), c)
        })
        .await
    }

    async fn replay(&self, entries: Vec<ReplayEntry>) -> StoreResult<()> {
        let behind = self.behind.clone();
        self.write(move |c| backup::replay_batch(c, entries, behind.as_ref())).await
    }

    async fn replay_all(&self, mut batches: tokio::sync::mpsc::Receiver<Vec<ReplayEntry>>) -> StoreResult<()> {
        let behind = self.behind.clone();
        // The writer takes batches as they come, without going back to the
        // async side between two: that hand-over waited for a runtime thread
        // while both cores were busy parsing and writing.
        self.write(move |c| {
            while let Some(mut entries) = batches.blocking_recv() {
                while entries.len() < backup::REPLAY_GROUP
                    && let Ok(more) = batches.try_recv()
                {
                    entries.extend(more);
                }
                backup::replay_batch(c, entries, behind.as_ref())?;
            }
            Ok(())
        })
        .await
    }

    async fn erasure_ledger(&self) -> StoreResult<Vec<LedgerRow>> {
        self.read(backup::ledger).await
    }

    async fn put_ledger(&self, rows: Vec<LedgerRow>) -> StoreResult<()> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
            rows.iter().try_for_each(|l| backup::put_ledger(&tx, l))?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn backup_targets(&self) -> StoreResult<Vec<TargetState>> {
        self.read(backup::targets).await
    }

    async fn put_backup_target(&self, state: TargetState) -> StoreResult<()> {
        self.write(move |c| backup::put_target(c, &state)).await
    }

    async fn backup_runs(&self, limit: u32) -> StoreResult<Vec<BackupRun>> {
        self.read(move |c| backup::runs(c, limit)).await
    }

    async fn add_backup_run(&self, run: BackupRun) -> StoreResult<()> {
        self.write(move |c| backup::add_run(c, &run)).await
    }

    async fn job_runs(&self) -> StoreResult<Vec<JobRun>> {
        self.read(jobs::runs).await
    }

    async fn put_job_run(&self, run: JobRun) -> StoreResult<()> {
        self.write(move |c| jobs::put(c, &run)).await
    }
}
