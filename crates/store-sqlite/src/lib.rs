//! The embedded backend: SQLite in WAL mode, one writer connection and a few
//! readers, each call run on tokio's blocking pool so the async executor never
//! waits on disk. All SQL of this backend lives in this crate.

mod accounts;
mod behind;
mod conn;
mod content;
mod entities;
mod jobs;
mod journal;
mod keys;
mod migrate;
mod privacy;
mod records;
mod replication;
mod sessions;
mod upgrade;

use std::path::Path;

use valv_store::{Change, Constraint, JournalEntry, StoreError, StoreResult};

use conn::Durability;
pub use conn::SqliteStore;
pub use keys::SqliteKeyStore;

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and migrates it.
    ///
    /// # Errors
    /// When the file cannot be opened or a migration fails.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let store = Self::connect(path, 4, Durability::EachCommit)?;
        store.write(migrate::run).await?;
        Ok(store)
    }

    /// Creates a new database for a restore or a drill's scratch copy: its
    /// commits are not synced one by one, since a restore that stops halfway
    /// is started again from the backup, not resumed, and the secondary
    /// indexes of the journal and the records are built once at the end.
    /// `Store::flush` builds them (and the field indexes asked for meanwhile)
    /// and makes everything durable, and the database an ordinary one. One
    /// reader is enough: a restore reads little, and each connection opened
    /// is time before the first row is written.
    ///
    /// # Errors
    /// As [`SqliteStore::open`]; a file that already holds data is refused.
    pub async fn open_unsynced(path: &Path) -> StoreResult<Self> {
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            return Err(StoreError::Backend(format!("{} exists; a restore creates a new database", path.display())));
        }
        let store = Self::connect(path, 1, Durability::AtFlush)?;
        store.write(migrate::run).await?;
        let deferred = store.write(migrate::defer_indexes).await?;
        *store.deferred.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(deferred);
        Ok(store)
    }

    async fn apply(&self, changes: Vec<Change>) -> StoreResult<Vec<JournalEntry>> {
        let keys = self.vault.keys(changes.iter().flat_map(Change::owners).collect()).await?;
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
            let mut sealing = entities::Sealing::new(keys.clone());
            let mut entries = Vec::with_capacity(changes.len());
            for change in &changes {
                for row in &change.expected {
                    entities::still(&tx, &keys, row)?;
                }
                for row in &change.rows {
                    entities::upsert(&tx, &mut sealing, row)?;
                }
                entities::within_storage(&tx, change)?;
                entries.push(journal::append(&tx, &keys, change)?);
            }
            tx.commit().map_err(backend)?;
            Ok(entries)
        })
        .await
    }
}

impl SqliteStore {
    async fn apply_from(&self, mut source: valv_store::ChangeSource) -> StoreResult<u64> {
        let (vault, runtime) = (self.vault.clone(), tokio::runtime::Handle::current());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
            let mut sealing = entities::Sealing::new(valv_store::Keys::default());
            let mut n = 0;
            while let Some(change) = source()? {
                // Owners are known only as changes come (an import makes its
                // tenant's key meanwhile); this thread is off the executor, so
                // it may wait for the keyring.
                let missing = sealing.keys.missing(&change.owners());
                if !missing.is_empty() {
                    sealing.keys.extend(runtime.block_on(vault.keys(missing))?);
                }
                for row in &change.rows {
                    entities::upsert(&tx, &mut sealing, row)?;
                }
                journal::append(&tx, &sealing.keys, &change)?;
                n += 1;
            }
            tx.commit().map_err(backend)?;
            Ok(n)
        })
        .await
    }
}

/// Maps a SQLite error to a store error, naming the constraint on conflicts.
pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e
        && f.code == rusqlite::ErrorCode::ConstraintViolation
        && let Some(name) = Constraint::of_sqlite_message(msg)
    {
        return StoreError::Conflict(name);
    }
    StoreError::Backend(e.to_string())
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}
