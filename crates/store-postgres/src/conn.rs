//! The connection pool, and the two kinds of transaction every write and
//! every consistent read goes through.

use std::str::FromStr as _;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use valv_store::{StoreError, StoreResult};

use crate::{backend, migrate};

/// The advisory lock every write of journaled state takes first (the bytes
/// of `valvjrnl`). Appends are serialised across all instances sharing the
/// database, so a `seq` is handed out only after every smaller one committed
/// and a reader of "entries after N" never misses a late commit.
pub(crate) const WRITE_LOCK: i64 = 0x7661_6c76_6a72_6e6c;

/// Connections per store: writes queue on the lock anyway, so a few serve
/// the reads beside them.
const POOL_SIZE: u32 = 5;

/// The PostgreSQL store. Cheap to clone; its `Debug` never shows the URL.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    pub(crate) leader: crate::lead::Leader,
    /// The keys rows and payloads are sealed with (`JournalStore::seal_with`).
    pub(crate) vault: valv_store::VaultSlot,
    /// How far `JournalStore::seal_stored` has come.
    pub(crate) upgrade: std::sync::Arc<std::sync::Mutex<crate::upgrade::Cursor>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://...`) with a small
    /// pool and applies the migrations it lacks.
    ///
    /// # Errors
    /// When the URL is not valid, the server cannot be reached or a migration
    /// fails. The error never contains the URL or its password.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = pool(url, POOL_SIZE).await?;
        migrate::run(&pool).await?;
        Ok(Self {
            pool,
            leader: crate::lead::Leader::default(),
            vault: valv_store::VaultSlot::default(),
            upgrade: std::sync::Arc::default(),
        })
    }

    /// A transaction for a write of journaled state, holding [`WRITE_LOCK`].
    /// READ COMMITTED whatever the server's default: each statement after the
    /// lock sees every write committed before the lock was granted.
    pub(crate) async fn write_tx(&self) -> StoreResult<Transaction<'static, Postgres>> {
        write_tx(&self.pool, WRITE_LOCK).await
    }

    /// A read-only snapshot: every statement in it sees the same state.
    pub(crate) async fn snapshot(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(backend)
    }
}

/// A READ COMMITTED transaction that first takes the advisory lock `key`.
pub(crate) async fn write_tx(pool: &PgPool, key: i64) -> StoreResult<Transaction<'static, Postgres>> {
    let mut tx = pool.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED").await.map_err(backend)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut *tx).await.map_err(backend)?;
    Ok(tx)
}

/// A pool of at most `size` connections to `url`. Errors are told without
/// the URL: it may hold a password.
pub(crate) async fn pool(url: &str, size: u32) -> StoreResult<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Backend(format!("invalid database URL: {}", redact(&e.to_string(), url))))?
        .application_name("valv");
    PgPoolOptions::new()
        .max_connections(size)
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Backend(format!("cannot connect to the database: {}", redact(&e.to_string(), url))))
}

/// `message` without `url` or the password in it, should a driver ever echo them.
fn redact(message: &str, url: &str) -> String {
    let mut out = message.replace(url, "<database URL>");
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
    let userinfo = authority.split(['/', '?']).next().unwrap_or_default();
    if let Some((credentials, _)) = userinfo.rsplit_once('@')
        && let Some((_, password)) = credentials.split_once(':')
        && !password.is_empty()
    {
        out = out.replace(password, "<password>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redaction_removes_the_url_and_the_password() {
        let url = "postgres://app:s3cret@db.example:5432/valv";
        assert_eq!(redact(&format!("failed for {url}"), url), "failed for <database URL>");
        assert_eq!(redact("auth failed with s3cret", url), "auth failed with <password>");
        assert_eq!(redact("no secrets here", "postgres://app@h/db"), "no secrets here");
    }

    /// The connect futures can be spawned: the binary starts stores in tasks.
    #[allow(dead_code, clippy::let_underscore_future)]
    fn connect_futures_are_send() {
        fn send<T: Send>(_: T) {}
        send(crate::PgStore::connect(""));
        send(crate::PgKeyStore::connect(""));
    }
}
