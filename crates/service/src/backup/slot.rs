//! The store a restore writes into, possibly still being made: a new
//! embedded database's schema takes a few milliseconds to create, and the
//! restore needs the store only when it first writes, after the keyring and
//! the first segments are read.

use std::sync::{Arc, Mutex, PoisonError};

use valv_store::{Store, Vault};

use super::internal;
use crate::{ServiceError, ServiceResult};

/// A store that is open, or being made on the runtime.
pub struct StoreSlot {
    store: tokio::sync::OnceCell<Arc<dyn Store>>,
    making: Mutex<Option<Making>>,
    /// The restored keyring, which the store seals with once it is made.
    vault: Mutex<Option<Arc<dyn Vault>>>,
}

/// A store being made on the runtime.
type Making = tokio::task::JoinHandle<ServiceResult<Arc<dyn Store>>>;

impl StoreSlot {
    /// A store that is open already.
    #[must_use]
    pub fn ready(store: Arc<dyn Store>) -> Self {
        Self { store: tokio::sync::OnceCell::new_with(Some(store)), making: Mutex::new(None), vault: Mutex::default() }
    }

    /// A store `making` makes; it starts now, on the runtime.
    pub fn making(making: impl Future<Output = ServiceResult<Arc<dyn Store>>> + Send + 'static) -> Self {
        Self {
            store: tokio::sync::OnceCell::new(),
            making: Mutex::new(Some(tokio::spawn(making))),
            vault: Mutex::default(),
        }
    }

    /// Seals the store's rows with `vault` (the restored keyring), now or
    /// as soon as it is made.
    pub fn seal_with(&self, vault: Arc<dyn Vault>) {
        *self.vault.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&vault));
        if let Some(store) = self.store.get() {
            store.seal_with(vault);
        }
    }

    /// The store, once made.
    ///
    /// # Errors
    /// Why it could not be made; `store_not_made` when asked again after that.
    pub async fn get(&self) -> ServiceResult<&Arc<dyn Store>> {
        self.store
            .get_or_try_init(|| async {
                let making = self.making.lock().unwrap_or_else(PoisonError::into_inner).take();
                let making = making.ok_or(ServiceError::Invalid {
                    code: "store_not_made",
                    message: "the restore's store could not be made; see the first error".into(),
                })?;
                let store = making.await.map_err(internal)??;
                if let Some(vault) = self.vault.lock().unwrap_or_else(PoisonError::into_inner).clone() {
                    store.seal_with(vault);
                }
                Ok(store)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use valv_store_sqlite::SqliteStore;

    use super::*;

    #[tokio::test]
    async fn a_store_being_made_is_awaited_and_a_failure_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("restored.db");
        let slot = StoreSlot::making(async move {
            let store = SqliteStore::open_unsynced(&path).await?;
            Ok(Arc::new(store) as Arc<dyn Store>)
        });
        let store = slot.get().await.expect("made");
        assert_eq!(store.journal_seq().await.expect("seq"), 0, "the new store is there, empty");
        assert!(Arc::ptr_eq(store, slot.get().await.expect("again")), "made once");

        let failed = StoreSlot::making(async { Err(crate::ServiceError::internal_msg("the disk is full")) });
        let first = failed.get().await.err().expect("fails");
        assert!(first.to_string().contains("the disk is full"), "{first}");
        assert_eq!(failed.get().await.err().expect("fails again").code(), "store_not_made");
    }
}
