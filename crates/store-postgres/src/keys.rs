//! The keyring in its own tables (`keyring_check`, `keyring_keys`) of the
//! same database, apart from the journal and from every dump: backups of the
//! data never carry it, and destroying a key rewrites the one place it lives
//! (DESIGN.md, Keys and erasure).

use sqlx::{PgPool, Postgres, Transaction};
use valv_store::{Added, Hold, KeyLock, KeyStore, StoreResult, rewraps_exactly};

use crate::backend;
use crate::conn::{pool, write_tx};

/// The advisory lock under which the keyring's tables are created (the bytes
/// of `valvkeys`), so two instances starting at once never collide.
const SETUP_LOCK: i64 = 0x7661_6c76_6b65_7973;

/// The keyring lock (the bytes of `valvring`): every server holds it shared
/// on a session of its own, a rotation alone.
const RING_LOCK: i64 = 0x7661_6c76_7269_6e67;

/// A keyring needs few connections: it is read at start and on new tenants.
const POOL_SIZE: u32 = 2;

/// The keyring tables. Cheap to clone; its `Debug` never shows the URL.
#[derive(Clone)]
pub struct PgKeyStore {
    pool: PgPool,
}

impl std::fmt::Debug for PgKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgKeyStore").finish_non_exhaustive()
    }
}

impl PgKeyStore {
    /// Connects to the database at `url` and creates the keyring tables if
    /// they are missing.
    ///
    /// # Errors
    /// When the server cannot be reached or the tables cannot be created.
    /// The error never contains the URL or its password.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = pool(url, POOL_SIZE).await?;
        let mut tx = write_tx(&pool, SETUP_LOCK).await?;
        let exists: bool = sqlx::query_scalar(
            "SELECT to_regclass('keyring_check') IS NOT NULL AND to_regclass('keyring_keys') IS NOT NULL",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        if !exists {
            for sql in [
                "CREATE TABLE IF NOT EXISTS keyring_check (id INTEGER NOT NULL, value BYTEA NOT NULL,
                   CONSTRAINT keyring_check_pkey PRIMARY KEY (id), CONSTRAINT keyring_check_single CHECK (id = 1))",
                "CREATE TABLE IF NOT EXISTS keyring_keys (tenant TEXT COLLATE \"C\" NOT NULL, wrapped BYTEA NOT NULL,
                   CONSTRAINT keyring_keys_pkey PRIMARY KEY (tenant))",
            ] {
                sqlx::query(sql).persistent(false).execute(&mut *tx).await.map_err(backend)?;
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(Self { pool })
    }
}

#[async_trait::async_trait]
impl KeyStore for PgKeyStore {
    async fn check(&self) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT value FROM keyring_check WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    async fn init(&self, check: Vec<u8>) -> StoreResult<bool> {
        let done = sqlx::query("INSERT INTO keyring_check (id, value) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(check)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn wrapped(&self, tenant: &str) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT wrapped FROM keyring_keys WHERE tenant = $1")
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    async fn add_wrapped(&self, tenant: &str, wrapped: Vec<u8>, check: Vec<u8>) -> StoreResult<Added> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // FOR SHARE: a rotation (which updates this row) waits for the add, or the add for it.
        if locked_check(&mut tx, "FOR SHARE").await?.as_deref() != Some(check.as_slice()) {
            return Ok(Added::OtherMaster);
        }
        let done =
            sqlx::query("INSERT INTO keyring_keys (tenant, wrapped) VALUES ($1, $2) ON CONFLICT (tenant) DO NOTHING")
                .bind(tenant)
                .bind(wrapped)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(if done.rows_affected() == 1 { Added::Stored } else { Added::Exists })
    }

    async fn tenants(&self) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT tenant FROM keyring_keys ORDER BY tenant")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    async fn rotate(&self, from: Vec<u8>, to: Vec<u8>, rewrapped: Vec<(String, Vec<u8>)>) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let current = locked_check(&mut tx, "FOR UPDATE").await?;
        // Destroys take the same row lock first, so the names read here stay.
        let names: Vec<String> = sqlx::query_scalar("SELECT tenant FROM keyring_keys ORDER BY tenant")
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        if current.as_deref() != Some(from.as_slice()) || !rewraps_exactly(&names, &rewrapped) {
            return Ok(false);
        }
        sqlx::query("UPDATE keyring_check SET value = $1 WHERE id = 1")
            .bind(to)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        for (t, w) in rewrapped {
            sqlx::query("UPDATE keyring_keys SET wrapped = $2 WHERE tenant = $1")
                .bind(t)
                .bind(w)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn hold(&self, hold: Hold) -> StoreResult<Option<KeyLock>> {
        // A session lock on a connection of its own, out of the pool: held
        // until the guard drops the connection or the process ends.
        let mut conn = self.pool.acquire().await.map_err(backend)?.detach();
        let sql = match hold {
            Hold::Serving => "SELECT pg_try_advisory_lock_shared($1)",
            Hold::Rotating => "SELECT pg_try_advisory_lock($1)",
        };
        let held: bool = sqlx::query_scalar(sql).bind(RING_LOCK).fetch_one(&mut conn).await.map_err(backend)?;
        Ok(held.then(|| KeyLock::new(conn)))
    }

    async fn destroy(&self, tenant: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        locked_check(&mut tx, "FOR SHARE").await?;
        sqlx::query("DELETE FROM keyring_keys WHERE tenant = $1")
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }
}

/// The check value, its row locked `mode` for the rest of the transaction.
async fn locked_check(tx: &mut Transaction<'_, Postgres>, mode: &str) -> StoreResult<Option<Vec<u8>>> {
    sqlx::query_scalar(&format!("SELECT value FROM keyring_check WHERE id = 1 {mode}"))
        .persistent(false)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)
}
