//! The keyring in its own tables (`keyring_check`, `keyring_keys`) of the
//! same database, apart from the journal and from every dump: backups of the
//! data never carry it, and destroying a key rewrites the one place it lives
//! (DESIGN.md, Keys and erasure).

use sqlx::PgPool;
use valv_store::{KeyStore, StoreResult};

use crate::backend;
use crate::conn::{pool, write_tx};

/// The advisory lock under which the keyring's tables are created (the bytes
/// of `valvkeys`), so two instances starting at once never collide.
const SETUP_LOCK: i64 = 0x7661_6c76_6b65_7973;

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

    async fn add_wrapped(&self, tenant: &str, wrapped: Vec<u8>) -> StoreResult<bool> {
        let done =
            sqlx::query("INSERT INTO keyring_keys (tenant, wrapped) VALUES ($1, $2) ON CONFLICT (tenant) DO NOTHING")
                .bind(tenant)
                .bind(wrapped)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn tenants(&self) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT tenant FROM keyring_keys ORDER BY tenant")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    async fn replace_all(&self, check: Vec<u8>, wrapped: Vec<(String, Vec<u8>)>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO keyring_check (id, value) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET value = excluded.value",
        )
        .bind(check)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        for (t, w) in wrapped {
            sqlx::query(
                "INSERT INTO keyring_keys (tenant, wrapped) VALUES ($1, $2)
                 ON CONFLICT (tenant) DO UPDATE SET wrapped = excluded.wrapped",
            )
            .bind(t)
            .bind(w)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn destroy(&self, tenant: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM keyring_keys WHERE tenant = $1")
            .bind(tenant)
            .execute(&self.pool)
            .await
            .map_err(backend)
            .map(drop)
    }
}
