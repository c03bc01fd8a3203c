//! The keyring in its own SQLite file (`keyring.db`), apart from the data
//! database, so backups of the data never carry it and destroying a key
//! rewrites the one place it lives.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension as _, params};
use valv_store::{KeyStore, StoreError, StoreResult};

use crate::backend;

/// The keyring file.
#[derive(Clone)]
pub struct SqliteKeyStore {
    conn: Arc<Mutex<Connection>>,
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
        let c = Connection::open(path).map_err(backend)?;
        c.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;
             CREATE TABLE IF NOT EXISTS keyring_check (id INTEGER PRIMARY KEY CHECK (id = 1), value BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS tenant_keys (tenant TEXT PRIMARY KEY, wrapped BLOB NOT NULL);",
        )
        .map_err(backend)?;
        Ok(Self { conn: Arc::new(Mutex::new(c)) })
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

    async fn add_wrapped(&self, tenant: &str, wrapped: Vec<u8>) -> StoreResult<bool> {
        let t = tenant.to_owned();
        self.run(move |c| {
            c.execute("INSERT OR IGNORE INTO tenant_keys (tenant, wrapped) VALUES (?1, ?2)", params![t, wrapped])
                .map(|n| n == 1)
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

    async fn replace_all(&self, check: Vec<u8>, wrapped: Vec<(String, Vec<u8>)>) -> StoreResult<()> {
        self.run(move |c| {
            let tx = c.transaction()?;
            tx.execute("INSERT OR REPLACE INTO keyring_check (id, value) VALUES (1, ?1)", [check])?;
            for (t, w) in wrapped {
                tx.execute("INSERT OR REPLACE INTO tenant_keys (tenant, wrapped) VALUES (?1, ?2)", params![t, w])?;
            }
            tx.commit()
        })
        .await
    }

    async fn destroy(&self, tenant: &str) -> StoreResult<()> {
        let t = tenant.to_owned();
        self.run(move |c| c.execute("DELETE FROM tenant_keys WHERE tenant = ?1", [t]).map(drop)).await
    }
}
