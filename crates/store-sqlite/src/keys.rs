//! The keyring in its own SQLite file (`keyring.db`), apart from the data
//! database, so backups of the data never carry it and destroying a key
//! rewrites the one place it lives.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use valv_store::{Added, Hold, KeyLock, KeyStore, StoreError, StoreResult, rewraps_exactly};

use crate::backend;
use crate::conn::{Durability, make_durable};

/// The keyring file.
#[derive(Clone)]
pub struct SqliteKeyStore {
    conn: Arc<Mutex<Connection>>,
    /// `keyring.lock` beside the file: servers hold it shared, a rotation
    /// alone (an advisory `flock`, released by the kernel when a process ends).
    lock: PathBuf,
}

impl std::fmt::Debug for SqliteKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteKeyStore")
    }
}

impl SqliteKeyStore {
    /// Opens (creating) the keyring file at `path`.
    ///
    /// # Errors
    /// When the file cannot be opened or created.
    pub fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with(path, Durability::EachCommit)
    }

    /// Creates a new keyring file for a restore: written without syncs, and
    /// made durable (and an ordinary keyring) by [`KeyStore::flush`] at the
    /// end, as the restored database is. Until then the restore's marker
    /// keeps the data dir from being served.
    ///
    /// # Errors
    /// When the file exists with content, or cannot be created.
    pub fn open_unsynced(path: &Path) -> StoreResult<Self> {
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            return Err(StoreError::Backend(format!("{} exists; a restore creates a new keyring", path.display())));
        }
        Self::open_with(path, Durability::AtFlush)
    }

    fn open_with(path: &Path, durability: Durability) -> StoreResult<Self> {
        let c = Connection::open(path).map_err(backend)?;
        c.execute_batch(&format!(
            "{} PRAGMA busy_timeout = 10000; PRAGMA secure_delete = ON;
             CREATE TABLE IF NOT EXISTS keyring_check (id INTEGER PRIMARY KEY CHECK (id = 1), value BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS tenant_keys (tenant TEXT PRIMARY KEY, wrapped BLOB NOT NULL);",
            durability.pragmas()
        ))
        .map_err(backend)?;
        Ok(Self { conn: Arc::new(Mutex::new(c)), lock: path.with_extension("lock") })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&mut conn.lock().unwrap_or_else(PoisonError::into_inner)))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
            .map_err(backend)
    }
}

#[async_trait::async_trait]
impl KeyStore for SqliteKeyStore {
    async fn check(&self) -> StoreResult<Option<Vec<u8>>> {
        self.run(|c| c.query_row("SELECT value FROM keyring_check WHERE id = 1", [], |r| r.get(0)).optional()).await
    }

    async fn init(&self, check: Vec<u8>) -> StoreResult<bool> {
        self.run(move |c| {
            c.execute("INSERT OR IGNORE INTO keyring_check (id, value) VALUES (1, ?1)", [check]).map(|n| n == 1)
        })
        .await
    }

    async fn wrapped(&self, tenant: &str) -> StoreResult<Option<Vec<u8>>> {
        let t = tenant.to_owned();
        self.run(move |c| {
            c.query_row("SELECT wrapped FROM tenant_keys WHERE tenant = ?1", [t], |r| r.get(0)).optional()
        })
        .await
    }

    async fn add_wrapped(&self, tenant: &str, wrapped: Vec<u8>, check: Vec<u8>) -> StoreResult<Added> {
        let t = tenant.to_owned();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if current_check(&tx)?.as_deref() != Some(check.as_slice()) {
                return Ok(Added::OtherMaster);
            }
            let n =
                tx.execute("INSERT OR IGNORE INTO tenant_keys (tenant, wrapped) VALUES (?1, ?2)", params![t, wrapped])?;
            tx.commit()?;
            Ok(if n == 1 { Added::Stored } else { Added::Exists })
        })
        .await
    }

    async fn tenants(&self) -> StoreResult<Vec<String>> {
        self.run(|c| {
            let mut s = c.prepare("SELECT tenant FROM tenant_keys ORDER BY tenant")?;
            s.query_map([], |r| r.get(0))?.collect()
        })
        .await
    }

    async fn rotate(&self, from: Vec<u8>, to: Vec<u8>, rewrapped: Vec<(String, Vec<u8>)>) -> StoreResult<bool> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let names: Vec<String> = tx
                .prepare("SELECT tenant FROM tenant_keys ORDER BY tenant")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if current_check(&tx)?.as_deref() != Some(from.as_slice()) || !rewraps_exactly(&names, &rewrapped) {
                return Ok(false);
            }
            tx.execute("UPDATE keyring_check SET value = ?1 WHERE id = 1", [to])?;
            for (t, w) in rewrapped {
                tx.execute("UPDATE tenant_keys SET wrapped = ?2 WHERE tenant = ?1", params![t, w])?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn hold(&self, hold: Hold) -> StoreResult<Option<KeyLock>> {
        let io = |e: std::io::Error| StoreError::Backend(format!("cannot lock {}: {e}", self.lock.display()));
        let file = File::options().create(true).truncate(false).write(true).open(&self.lock).map_err(io)?;
        let taken = match hold {
            Hold::Serving => file.try_lock_shared(),
            Hold::Rotating => file.try_lock(),
        };
        match taken {
            Ok(()) => Ok(Some(KeyLock::new(file))),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }

    async fn destroy(&self, tenant: &str) -> StoreResult<()> {
        let t = tenant.to_owned();
        // secure_delete zeroes the freed bytes in the file; the checkpoint
        // empties the WAL, which still holds the page as it was: no copy of
        // the wrapped key is left on disk (DESIGN.md, Sealed at rest).
        self.run(move |c| {
            c.execute("DELETE FROM tenant_keys WHERE tenant = ?1", [t])?;
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        })
        .await
    }

    async fn flush(&self) -> StoreResult<()> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || make_durable(&conn.lock().unwrap_or_else(PoisonError::into_inner), None))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

fn current_check(c: &Connection) -> rusqlite::Result<Option<Vec<u8>>> {
    c.query_row("SELECT value FROM keyring_check WHERE id = 1", [], |r| r.get(0)).optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_keyring_written_for_a_restore_is_an_ordinary_one_after_its_flush() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keyring.db");
        let keys = SqliteKeyStore::open_unsynced(&path).expect("open");
        assert!(keys.init(vec![1, 2]).await.expect("init"));
        assert_eq!(keys.add_wrapped("t1", vec![3], vec![1, 2]).await.expect("add"), Added::Stored);
        keys.flush().await.expect("flush");
        drop(keys);
        assert!(SqliteKeyStore::open_unsynced(&path).is_err(), "only into a new file");
        let reopened = SqliteKeyStore::open(&path).expect("reopen");
        assert_eq!(reopened.check().await.expect("check"), Some(vec![1, 2]));
        assert_eq!(reopened.wrapped("t1").await.expect("wrapped"), Some(vec![3]));
        let mode: String = reopened.run(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0))).await.expect("mode");
        assert_eq!(mode, "wal", "every later write is synced as in any keyring");
    }
}
