//! Privacy: data-subject requests, erasure and its ledger, and the purge of a tenant.

use valv_domain::{FileId, TenantId};

use crate::{Change, JournalEntry, LedgerRow, RequestRow, StoreResult};

/// Privacy: data-subject requests, erasure and its ledger, and the purge of a tenant.
#[async_trait::async_trait]
pub trait PrivacyStore: Send + Sync + 'static {
    /// Deletes every row of `tenant` (accounts, tokens, sessions, collections,
    /// records, files), blanks the payloads of its journal chain (the chain
    /// still verifies on payload hashes) and commits `change`, in one
    /// transaction. Returns how many rows went, by table.
    async fn purge_tenant(&self, tenant: TenantId, change: Change) -> StoreResult<Vec<(String, u64)>>;

    /// Applies an erasure in one transaction: writes the redacted rows of
    /// `change` and its journal entry, deletes the versions of `files`, blanks
    /// the journal payloads of the `(entity, id)` pairs in `entity_ids`
    /// (marking them with `erasure_id`), and adds `ledger` (JSON) to the erasure ledger.
    async fn erase(
        &self,
        tenant: TenantId,
        erasure_id: &str,
        entity_ids: Vec<(String, String)>,
        files: Vec<FileId>,
        ledger: serde_json::Value,
        change: Change,
    ) -> StoreResult<JournalEntry>;

    async fn request(&self, tenant: TenantId, id: &str) -> StoreResult<Option<RequestRow>>;

    /// Every request of the tenant, oldest first.
    async fn requests(&self, tenant: TenantId) -> StoreResult<Vec<RequestRow>>;

    /// The erasure ledger, oldest first.
    async fn erasure_ledger(&self) -> StoreResult<Vec<LedgerRow>>;

    /// Adds ledger rows that are not there yet (a restore brings back the newest ledger).
    async fn put_ledger(&self, rows: Vec<LedgerRow>) -> StoreResult<()>;
}
