//! Privacy on SQLite: data-subject requests, erasure (redacted rows, blanked
//! journal payloads and the erasure ledger in one transaction) and the purge
//! of a tenant.

use crate::entities::{many, one};
use crate::{SqliteStore, backend, journal, replication};
use valv_domain::{FileId, TenantId};
use valv_store::{Change, JournalEntry, LedgerRow, RequestRow, StoreResult};
use valv_store::{PrivacyStore, Table};

#[async_trait::async_trait]
impl PrivacyStore for SqliteStore {
    async fn purge_tenant(&self, tenant: TenantId, change: Change) -> StoreResult<Vec<(String, u64)>> {
        let keys = self.vault.keys(change.owners()).await?;
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
            let counts = crate::replication::purge_rows(&tx, &tenant.to_string())?;
            let mut sealing = crate::entities::Sealing::new(keys.clone());
            for row in &change.rows {
                crate::entities::upsert(&tx, &mut sealing, row)?;
            }
            journal::append(&tx, &keys, &change)?;
            tx.commit().map_err(backend)?;
            crate::conn::truncate_wal(c)?;
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
        let keys = self.vault.keys(change.owners()).await?;
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
            let mut sealing = crate::entities::Sealing::new(keys.clone());
            for row in &change.rows {
                crate::entities::upsert(&tx, &mut sealing, row)?;
            }
            let entry = journal::append(&tx, &keys, &change)?;
            tx.execute(
                "INSERT OR IGNORE INTO erasure_ledger (id, tenant_id, at, row_json) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![erasure_id, t, entry.at, ledger.to_string()],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            crate::conn::truncate_wal(c)?;
            Ok(entry)
        })
        .await
    }

    async fn request(&self, tenant: TenantId, id: &str) -> StoreResult<Option<RequestRow>> {
        let id = id.to_owned();
        let row = self.read(move |c| {
            one(
                c,
                "SELECT tenant_id, id, image FROM requests WHERE tenant_id = ?1 AND id = ?2",
                &[&tenant.to_string(), &id],
            )
        });
        self.vault.open_one(Table::Requests, row.await?).await
    }

    async fn requests(&self, tenant: TenantId) -> StoreResult<Vec<RequestRow>> {
        let rows = self.read(move |c| {
            many(
                c,
                "SELECT tenant_id, id, image FROM requests WHERE tenant_id = ?1 ORDER BY id",
                &[&tenant.to_string()],
            )
        });
        self.vault.open(Table::Requests, rows.await?).await
    }

    async fn erasure_ledger(&self) -> StoreResult<Vec<LedgerRow>> {
        self.read(replication::ledger).await
    }

    async fn put_ledger(&self, rows: Vec<LedgerRow>) -> StoreResult<()> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
            rows.iter().try_for_each(|l| replication::put_ledger(&tx, l))?;
            tx.commit().map_err(backend)
        })
        .await
    }
}
