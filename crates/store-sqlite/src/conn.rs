//! Connections: one writer (SQLite allows one at a time) and a small set of
//! readers that WAL mode lets run beside it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use valv_store::{StoreError, StoreResult};

use crate::backend;
use crate::behind::WriteBehind;

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next: Arc<AtomicUsize>,
    /// Only for a database written unsynced: its background syncs.
    pub(crate) behind: Option<WriteBehind>,
    /// Only for a database written unsynced, until `flush`: the indexes it
    /// builds then. `None` on an ordinary database.
    pub(crate) deferred: Arc<Mutex<Option<Vec<String>>>>,
    /// The keys rows and payloads are sealed with (`JournalStore::seal_with`).
    pub(crate) vault: valv_store::VaultSlot,
    /// How far `JournalStore::seal_stored` has come.
    pub(crate) upgrade: Arc<Mutex<crate::upgrade::Cursor>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

/// How commits reach the disk.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// WAL: readers never block the writer. synchronous=FULL: a commit that
    /// returned is on disk, so an acknowledged write survives a crash.
    EachCommit,
    /// A new database being restored: pages go straight into the file (the
    /// rollback journal is kept in memory, so a failed transaction still
    /// rolls back) and nothing is synced until `Store::flush` switches to WAL
    /// and syncs once. A crash before that leaves a file to throw away.
    /// Its pages are 16 KiB instead of SQLite's 4 KiB: a restore writes rows
    /// of about a kilobyte by the thousand, and with larger pages it writes
    /// and splits a quarter as many pages.
    AtFlush,
}

impl Durability {
    /// What a connection opened with this durability is set to first.
    pub(crate) fn pragmas(self) -> &'static str {
        match self {
            Self::EachCommit => "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;",
            Self::AtFlush => {
                "PRAGMA page_size = 16384; PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; \
                 PRAGMA cache_size = -65536;"
            }
        }
    }
}

/// Makes a database written [`Durability::AtFlush`] an ordinary one (WAL,
/// every commit synced). The switch itself is left unsynced, as the file is
/// synced as a whole next, once the background syncs (`behind`) have ended.
/// On an ordinary database this syncs a file whose commits are on disk already.
pub(crate) fn make_durable(c: &Connection, behind: Option<&WriteBehind>) -> StoreResult<()> {
    let mode: String = c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(backend)?;
    if mode != "wal" {
        return Err(StoreError::Backend(format!("the database stayed in {mode} mode")));
    }
    c.execute_batch("PRAGMA synchronous = FULL").map_err(backend)?;
    let path = c.path().unwrap_or_default().to_owned();
    let synced = behind.map_or(Ok(()), WriteBehind::finish).and_then(|()| std::fs::File::open(path)?.sync_all());
    synced.map_err(|e| StoreError::Backend(e.to_string()))
}

/// Copies the WAL into the database and empties it, after a purge or an
/// erasure: with `secure_delete` the freed rows are zeroed in the file, and
/// the WAL's older page images would otherwise keep them (DESIGN.md, Sealed
/// at rest). Readers still on an older snapshot keep it from finishing; the
/// next checkpoint then does.
pub(crate) fn truncate_wal(c: &Connection) -> StoreResult<()> {
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(backend)
}

fn open_one(path: &Path, durability: Durability) -> StoreResult<Connection> {
    let c = Connection::open(path).map_err(backend)?;
    c.execute_batch(durability.pragmas()).map_err(backend)?;
    // secure_delete: a deleted row's bytes are overwritten, so a purged
    // tenant's sealed rows leave nothing in freed pages (issue: sealed at rest).
    c.execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA secure_delete = ON;")
        .map_err(backend)?;
    // Room for every statement the writes and the common reads keep prepared.
    c.set_prepared_statement_cache_capacity(64);
    Ok(c)
}

impl SqliteStore {
    pub(crate) fn connect(path: &Path, readers: usize, durability: Durability) -> StoreResult<Self> {
        let writer = open_one(path, durability)?;
        let readers =
            (0..readers).map(|_| open_one(path, durability).map(Mutex::new)).collect::<StoreResult<Vec<_>>>()?;
        Ok(Self {
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(readers),
            next: Arc::new(AtomicUsize::new(0)),
            behind: (durability == Durability::AtFlush).then(WriteBehind::default),
            deferred: Arc::new(Mutex::new((durability == Durability::AtFlush).then(Vec::new))),
            vault: valv_store::VaultSlot::default(),
            upgrade: Arc::default(),
        })
    }

    /// Runs `f` with the writer connection on the blocking pool.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || f(&mut writer.lock().unwrap_or_else(PoisonError::into_inner)))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    /// Runs `f` with a reader connection on the blocking pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        let i = self.next.fetch_add(1, Ordering::Relaxed) % readers.len();
        tokio::task::spawn_blocking(move || f(&readers[i].lock().unwrap_or_else(PoisonError::into_inner)))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}
