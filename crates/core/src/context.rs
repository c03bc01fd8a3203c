//! The shared context every area works on: the store, the clock, the
//! message sender, the settings, the keyring and the blob store, with the
//! few helpers every area needs (the time, password hashing off the async
//! executor, fixed-window rate limits). An area holds a clone (a handful of
//! reference counts) and keeps its own helpers private to itself.

use std::sync::Arc;

use secrecy::SecretString;
use time::Duration;
use tokio::sync::Semaphore;
use valv_crypto::password::Verdict;
use valv_domain::Clock;
use valv_store::Store;

use crate::keyring::Keyring;
use crate::{Sender, ServiceError, ServiceResult, Settings};

/// What every use case works with.
#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub sender: Arc<dyn Sender>,
    pub settings: Arc<Settings>,
    pub keyring: Arc<Keyring>,
    /// Where file content goes; `None` in stores that hold no files (a restore drill's).
    pub blobs: Option<valv_blob::ChunkStore>,
    hashing: Arc<Semaphore>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl Context {
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        clock: Arc<dyn Clock>,
        sender: Arc<dyn Sender>,
        settings: Settings,
    ) -> Self {
        let hashing = Arc::new(Semaphore::new(settings.hash_concurrency.max(1)));
        // Rows are sealed with the keyring's keys from the first one written.
        store.seal_with(keyring.clone());
        Self { store, clock, sender, settings: Arc::new(settings), keyring, blobs: None, hashing }
    }

    /// The time now, from the injected clock (DESIGN.md: nothing reads the system clock).
    #[must_use]
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// The blob store.
    ///
    /// # Errors
    /// `Internal` when none is configured.
    pub fn blobs(&self) -> ServiceResult<&valv_blob::ChunkStore> {
        self.blobs.as_ref().ok_or_else(|| ServiceError::internal_msg("no chunk store is configured"))
    }

    /// Hashes a password on the blocking pool, at most `hash_concurrency` at a
    /// time, so a sign-in storm never stalls the async executor (STYLE.md).
    ///
    /// # Errors
    /// `Internal` when the hashing task fails.
    pub async fn hash_password(&self, password: SecretString) -> ServiceResult<String> {
        let _permit = self.hashing.acquire().await.map_err(ServiceError::internal)?;
        let kdf = self.settings.kdf;
        tokio::task::spawn_blocking(move || kdf.hash(&password))
            .await
            .map_err(ServiceError::internal)?
            .map_err(ServiceError::internal)
    }

    /// Verifies a password on the blocking pool (see [`Self::hash_password`]).
    ///
    /// # Errors
    /// `Internal` when the hashing task fails.
    pub async fn verify_password(&self, password: SecretString, phc: String) -> ServiceResult<Verdict> {
        let _permit = self.hashing.acquire().await.map_err(ServiceError::internal)?;
        let kdf = self.settings.kdf;
        tokio::task::spawn_blocking(move || kdf.verify(&password, &phc)).await.map_err(ServiceError::internal)
    }

    /// A fixed-window rate limit: at most `limit` calls per `window` for
    /// `key`, counted in the throttle table.
    ///
    /// # Errors
    /// `RateLimited` past the limit; store failures.
    pub async fn rate_limit(&self, key: &str, limit: u32, window: Duration) -> ServiceResult<()> {
        let now = self.now();
        let t = self.store.count_call(key, now, window).await?;
        if t.failures > limit {
            let secs = t.locked_until.map_or(1, |end| crate::error::retry_after_secs(end - now));
            return Err(ServiceError::RateLimited { retry_after_secs: secs });
        }
        Ok(())
    }
}
