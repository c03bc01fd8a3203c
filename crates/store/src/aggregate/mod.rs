//! The storage boundary, one trait per aggregate (journal, accounts,
//! sessions, content, privacy, replication, jobs) under one combining
//! [`Store`]: a use case names the part it needs, a backend implements each
//! part in a module of the same name, and `Arc<dyn Store>` still carries
//! them all. A new area (governance) is one more trait here.

mod accounts;
mod content;
mod jobs;
mod journal;
mod privacy;
mod replication;
mod sessions;

pub use accounts::AccountStore;
pub use content::ContentStore;
pub use jobs::JobStore;
pub use journal::JournalStore;
pub use privacy::PrivacyStore;
pub use replication::ReplicationStore;
pub use sessions::SessionStore;

/// A storage backend: every aggregate's trait. Implementations:
/// `valv-store-sqlite` (embedded default) and `valv-store-postgres`.
pub trait Store:
    JournalStore + AccountStore + SessionStore + ContentStore + PrivacyStore + ReplicationStore + JobStore
{
}

impl<T: JournalStore + AccountStore + SessionStore + ContentStore + PrivacyStore + ReplicationStore + JobStore> Store
    for T
{
}

/// The aggregate traits, for calling their methods on a `dyn Store`.
pub mod prelude {
    pub use super::AccountStore as _;
    pub use super::ContentStore as _;
    pub use super::JobStore as _;
    pub use super::JournalStore as _;
    pub use super::PrivacyStore as _;
    pub use super::ReplicationStore as _;
    pub use super::SessionStore as _;
}
