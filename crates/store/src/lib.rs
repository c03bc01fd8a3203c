//! The storage boundary of valv: the [`Store`] trait every backend implements,
//! the row types, changes and journal entries that cross it, and (feature
//! `contract`) the contract suite every backend must pass.
//!
//! Every method that touches customer data takes the [`TenantId`] first, so a
//! query can never forget to scope itself. The exceptions are credential
//! lookups (`session`, `token`), which run before the tenant is known and whose
//! results the service checks against the tenant they name.

mod action;
pub mod backup;
mod change;
mod constraint;
mod ephemeral;
mod error;
mod files;
mod image;
mod jobs;
pub mod journal;
mod keys;
mod records;
mod requests;
mod rows;
mod shipped;
mod table;

#[cfg(feature = "contract")]
pub mod contract;

pub use action::{Action, Effect};
pub use backup::{
    BackupRun, DumpItem, DumpSink, EntryImage, LedgerRow, Position, ReplayEntry, StateDigest, TargetState,
};
pub use change::{Actor, Chain, Change};
pub use constraint::Constraint;
pub use ephemeral::{Principal, SessionRow, Throttle};
pub use error::{StoreError, StoreResult};
pub use files::{FileRow, FileVersionRow, StoredChunk};
pub use image::{RowImage, RowKeys};
pub use jobs::{JobOutcome, JobRun};
pub use journal::{ChainHead, HistoryItem, JournalEntry, JournalQuery};
pub use keys::KeyStore;
pub use records::{CollectionRow, Filter, Op, Processing, RecordQuery, RecordRow};
pub use requests::RequestRow;
pub use rows::{Contact, OperatorRow, Row, TenantLimits, TenantRow, TokenId, TokenRow, TotpState, UserRow};
pub use shipped::ShippedEntry;
pub use table::{Owner, Table};

use valv_domain::{CollectionId, Email, FileId, OperatorId, RecordId, Slug, TenantId, UserId};

/// The changes of [`Store::commit_from`], called inside its transaction:
/// `Ok(Some(change))` to apply, `Ok(None)` to commit, an error to write nothing.
/// It may block waiting for its next change: backends call it off the async executor.
pub type ChangeSource = Box<dyn FnMut() -> StoreResult<Option<Change>> + Send>;

/// A storage backend. Implementations: `valv-store-sqlite` (embedded default).
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
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

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<TenantRow>>;
    async fn tenant_by_slug(&self, slug: &Slug) -> StoreResult<Option<TenantRow>>;
    async fn tenants(&self) -> StoreResult<Vec<TenantRow>>;

    async fn user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<UserRow>>;
    async fn user_by_email(&self, tenant: TenantId, email: &Email) -> StoreResult<Option<UserRow>>;
    async fn users(&self, tenant: TenantId) -> StoreResult<Vec<UserRow>>;

    async fn operator(&self, id: OperatorId) -> StoreResult<Option<OperatorRow>>;
    async fn operator_by_email(&self, email: &Email) -> StoreResult<Option<OperatorRow>>;
    async fn operator_count(&self) -> StoreResult<u64>;

    /// A token by id, for authentication; the caller checks its tenant.
    async fn token(&self, id: TokenId) -> StoreResult<Option<TokenRow>>;
    async fn tokens(&self, tenant: TenantId, user: UserId) -> StoreResult<Vec<TokenRow>>;

    async fn put_session(&self, session: SessionRow) -> StoreResult<()>;
    /// A session by id, for authentication; the caller checks its principal.
    async fn session(&self, id: &str) -> StoreResult<Option<SessionRow>>;
    async fn delete_session(&self, id: &str) -> StoreResult<()>;
    /// Ends every session of `principal` except `keep`.
    async fn delete_sessions(&self, principal: Principal, keep: Option<&str>) -> StoreResult<()>;

    async fn throttle(&self, key: &str) -> StoreResult<Option<Throttle>>;
    /// Counts one more failure against `key` in one step, so failures that
    /// come at the same moment are each counted; returns the new count.
    async fn add_failure(&self, key: &str) -> StoreResult<u32>;
    /// Locks `key` until `until`, unless it is locked longer already.
    async fn lock_throttle(&self, key: &str, until: time::OffsetDateTime) -> StoreResult<()>;
    /// Counts a call against `key` in its fixed window, in one step: a new
    /// window of `window` starts at `now` once the last one has ended.
    /// Returns the calls counted in the window (`failures`) and its end.
    async fn count_call(&self, key: &str, now: time::OffsetDateTime, window: time::Duration) -> StoreResult<Throttle>;
    async fn clear_throttle(&self, key: &str) -> StoreResult<()>;

    /// Stores the digest of the first-start setup token, replacing any other.
    async fn put_setup_token(&self, digest: &str) -> StoreResult<()>;
    /// Removes the setup token if `digest` matches it; true when it did.
    async fn take_setup_token(&self, digest: &str) -> StoreResult<bool>;

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

    /// The newest journal position (0 for an empty journal).
    async fn journal_seq(&self) -> StoreResult<u64>;
    /// Entries of every chain after `seq`, in commit order (backup shipping).
    async fn journal_after(&self, seq: u64, limit: u32) -> StoreResult<Vec<JournalEntry>>;
    /// Streams all journaled state (rows, journal with payloads, chain heads,
    /// erasure ledger) to `sink` from one consistent read, and returns the
    /// position and digest of that state.
    async fn dump(&self, sink: DumpSink) -> StoreResult<Position>;
    /// Position and digest of the current state, read consistently.
    async fn state_digest(&self) -> StoreResult<Position>;
    /// Writes dump items into a store (a restore into an empty one), in one transaction.
    async fn load(&self, items: Vec<DumpItem>) -> StoreResult<()>;
    /// Replays shipped entries after the current position: applies their row
    /// images (and a tenant purge) and appends them as they were, in one transaction.
    async fn replay(&self, entries: Vec<ReplayEntry>) -> StoreResult<()>;
    /// Replays the batches of `batches` as they come, each as [`Store::replay`]
    /// does, until the channel closes. A store with a single writer applies
    /// them back to back on it, joining the batches that wait into one transaction.
    async fn replay_all(&self, mut batches: tokio::sync::mpsc::Receiver<Vec<ReplayEntry>>) -> StoreResult<()> {
        while let Some(entries) = batches.recv().await {
            self.replay(entries).await?;
        }
        Ok(())
    }
    /// The erasure ledger, oldest first.
    async fn erasure_ledger(&self) -> StoreResult<Vec<LedgerRow>>;
    /// Adds ledger rows that are not there yet (a restore brings back the newest ledger).
    async fn put_ledger(&self, rows: Vec<LedgerRow>) -> StoreResult<()>;

    async fn backup_targets(&self) -> StoreResult<Vec<TargetState>>;
    async fn put_backup_target(&self, state: TargetState) -> StoreResult<()>;
    /// The newest backup and drill runs, newest first.
    async fn backup_runs(&self, limit: u32) -> StoreResult<Vec<BackupRun>>;
    async fn add_backup_run(&self, run: BackupRun) -> StoreResult<()>;

    /// The last run of every background job that has run, by name.
    async fn job_runs(&self) -> StoreResult<Vec<JobRun>>;
    /// Records `run` as the last run of its job.
    async fn put_job_run(&self, run: JobRun) -> StoreResult<()>;

    /// Whether this process leads the installation's background work
    /// (backup shipping, the daily full backup, purging expired tenants):
    /// several processes may serve one shared database, and exactly one of
    /// them may do each of these. Asked again every few seconds: a process
    /// that lost the lead stops. The embedded store has one process, which
    /// always leads.
    async fn lead(&self) -> StoreResult<bool> {
        Ok(true)
    }
    /// Makes every write so far durable. Only a store opened for a restore
    /// (commits not synced one by one) has anything to do; in every other
    /// store a commit that returned is already on disk.
    async fn flush(&self) -> StoreResult<()> {
        Ok(())
    }
}
