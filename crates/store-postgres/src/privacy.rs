//! Privacy on PostgreSQL: data-subject requests, erasure (redacted rows, blanked
//! journal payloads and the erasure ledger in one transaction) and the purge
//! of a tenant.

use crate::entities::{many, one, rows};
use crate::{PgStore, backend, journal, replication};
use valv_domain::{FileId, TenantId};
use valv_store::{Change, JournalEntry, LedgerRow, RequestRow, StoreResult};
use valv_store::{PrivacyStore, Table};

#[async_trait::async_trait]
impl PrivacyStore for PgStore {
    async fn purge_tenant(&self, tenant: TenantId, change: Change) -> StoreResult<Vec<(String, u64)>> {
        let keys = self.vault.keys(change.owners()).await?;
        let mut tx = self.write_tx().await?;
        let counts = replication::purge_rows(&mut tx, &tenant.to_string()).await?;
        let mut sealing = crate::entities::Sealing::new(keys.clone());
        for row in &change.rows {
            crate::entities::upsert(&mut tx, &mut sealing, row).await?;
        }
        journal::Appender::new(&mut tx).await?.append(&mut tx, &keys, &change).await?;
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
        let q = rows("SELECT tenant_id, id, image FROM requests WHERE tenant_id = $1 AND id = $2");
        let row = one(&self.pool, q.bind(tenant.to_string()).bind(id)).await?;
        self.vault.open_one(Table::Requests, row).await
    }

    async fn requests(&self, tenant: TenantId) -> StoreResult<Vec<RequestRow>> {
        let q = rows("SELECT tenant_id, id, image FROM requests WHERE tenant_id = $1 ORDER BY id");
        let rows = many(&self.pool, q.bind(tenant.to_string())).await?;
        self.vault.open(Table::Requests, rows).await
    }

    async fn erasure_ledger(&self) -> StoreResult<Vec<LedgerRow>> {
        let mut c = self.pool.acquire().await.map_err(backend)?;
        replication::ledger(&mut c).await
    }

    async fn put_ledger(&self, rows: Vec<LedgerRow>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        for l in &rows {
            replication::put_ledger(&mut tx, l).await?;
        }
        tx.commit().await.map_err(backend)
    }
}
