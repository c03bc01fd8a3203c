//! The keyring as the store's vault (DESIGN.md, Sealed at rest): the row
//! keys of a tenant derive from its data key, the provider's from the
//! provider key, each derived once and kept while the data key lives.

use std::sync::{Arc, PoisonError};

use valv_domain::TenantId;
use valv_store::{KeyOwner, RowKey, StoreError, StoreResult, Vault};

use crate::keyring::{BACKUP, Keyring, KeyringError, PROVIDER};

fn store_error(e: KeyringError) -> StoreError {
    StoreError::Backend(e.to_string())
}

#[async_trait::async_trait]
impl Vault for Keyring {
    async fn key(&self, owner: KeyOwner) -> StoreResult<Arc<RowKey>> {
        if let Some(k) = self.rows.read().unwrap_or_else(PoisonError::into_inner).get(&owner) {
            return Ok(Arc::clone(k));
        }
        let data_key = match owner {
            KeyOwner::Provider => self.provider_key().await,
            KeyOwner::Tenant(t) => self.key(t).await,
        }
        .map_err(store_error)?;
        let key = Arc::new(RowKey::new(owner, &data_key));
        self.rows.write().unwrap_or_else(PoisonError::into_inner).insert(owner, Arc::clone(&key));
        Ok(key)
    }

    async fn owners(&self) -> StoreResult<Vec<KeyOwner>> {
        let names = self.names().await.map_err(store_error)?;
        let tenants = names.iter().filter(|n| *n != BACKUP && *n != PROVIDER).filter_map(|n| TenantId::parse(n).ok());
        Ok(std::iter::once(KeyOwner::Provider).chain(tenants.map(KeyOwner::Tenant)).collect())
    }
}
