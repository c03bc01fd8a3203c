//! The storage boundary of valv: the [`Store`] trait every backend implements,
//! the row types, changes and journal entries that cross it, and (feature
//! `contract`) the contract suite every backend must pass.
//!
//! Every method that touches customer data takes the [`TenantId`] first, so a
//! query can never forget to scope itself. The exceptions are credential
//! lookups (`session`, `token`), which run before the tenant is known and whose
//! results the service checks against the tenant they name.

mod action;
mod aggregate;
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
pub mod search;
mod shipped;
mod table;
pub mod vault;

#[cfg(feature = "contract")]
pub mod contract;

pub use action::{Action, Effect};
pub use aggregate::{
    AccountStore, ContentStore, JobStore, JournalStore, PrivacyStore, ReplicationStore, SessionStore, Store, prelude,
};
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
pub use keys::{Added, Hold, KeyLock, KeyStore, rewraps_exactly};
pub use records::{CollectionRow, Filter, Op, Processing, RecordQuery, RecordRow};
pub use requests::RequestRow;
pub use rows::{Contact, OperatorRow, Row, TenantLimits, TenantRow, TokenId, TokenRow, TotpState, UserRow};
pub use shipped::ShippedEntry;
pub use table::{Owner, Table};
pub use vault::{KeyOwner, Keys, RowKey, Sealed, Vault, VaultSlot};

/// The changes of [`Store::commit_from`], called inside its transaction:
/// `Ok(Some(change))` to apply, `Ok(None)` to commit, an error to write nothing.
/// It may block waiting for its next change: backends call it off the async executor.
pub type ChangeSource = Box<dyn FnMut() -> StoreResult<Option<Change>> + Send>;
