//! The journal: the only writer of journaled state, and its reads (history, audit, chains).

use valv_domain::TenantId;

use crate::{Chain, ChainHead, Change, ChangeSource, HistoryItem, JournalEntry, JournalQuery, StoreError, StoreResult};

/// The journal: the only writer of journaled state, and its reads (history, audit, chains).
#[async_trait::async_trait]
pub trait JournalStore: Send + Sync + 'static {
    /// Seals rows and payloads with the keys of `vault` from now on
    /// (DESIGN.md, Sealed at rest). Until then every call that reads or
    /// writes a row fails: nothing is ever stored in clear.
    fn seal_with(&self, vault: std::sync::Arc<dyn crate::Vault>);

    /// Seals the next `batch` rows or journal payloads stored before sealing
    /// (a database made by an earlier release): how many it looked at, or
    /// `None` once everything is sealed. Each step commits alone, so a crash
    /// halfway leaves a database that opens and finishes the job.
    async fn seal_stored(&self, batch: u32) -> StoreResult<Option<u64>>;

    /// Applies the rows of every change and appends their journal entries in
    /// one transaction. On error nothing was written.
    async fn commit_all(&self, changes: Vec<Change>) -> StoreResult<Vec<JournalEntry>>;

    /// Applies changes pulled one at a time from `source`, all in one
    /// transaction, so that no caller must hold them all (an import of
    /// millions of rows). Commits when `source` yields `Ok(None)` and returns
    /// how many changes it applied; when `source` or a change fails, nothing
    /// was written.
    async fn commit_from(&self, source: ChangeSource) -> StoreResult<u64>;

    /// [`Store::commit_all`] for one change.
    async fn commit(&self, change: Change) -> StoreResult<JournalEntry> {
        let mut entries = self.commit_all(vec![change]).await?;
        entries.pop().ok_or_else(|| StoreError::Backend("commit wrote no entry".into()))
    }

    /// Entries of `chain` matching `query`, newest first.
    async fn journal(&self, chain: Chain, query: &JournalQuery) -> StoreResult<Vec<JournalEntry>>;

    /// Every chain key with its recorded head.
    async fn chain_heads(&self) -> StoreResult<Vec<(String, ChainHead)>>;

    /// Up to `limit` entries of the chain `key` after `after` (a `chain_seq`),
    /// in chain order: verification and export read a chain page by page.
    async fn chain_page(&self, key: &str, after: u64, limit: u32) -> StoreResult<Vec<JournalEntry>>;

    /// [`Store::chain_page`] without payloads (`payload` is `None`): what an
    /// export lists, without reading every row image of the chain.
    async fn chain_links(&self, key: &str, after: u64, limit: u32) -> StoreResult<Vec<JournalEntry>>;

    /// Keys of chains that have entries (with or without a head).
    async fn chain_keys(&self) -> StoreResult<Vec<String>>;

    /// Entries of `tenant`'s chain about one entity, oldest first (revision history).
    async fn history(&self, tenant: TenantId, entity: &str, entity_id: &str) -> StoreResult<Vec<JournalEntry>>;

    /// [`Store::history`] of many entities of one kind in one read, ordered by
    /// entity id, then oldest first, each entry reduced to what a history
    /// needs (the export reads a page of records at once).
    async fn histories(&self, tenant: TenantId, entity: &str, ids: Vec<String>) -> StoreResult<Vec<HistoryItem>>;
}
