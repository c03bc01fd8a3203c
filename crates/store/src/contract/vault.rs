//! The vault of the contract suite: every owner's key derived from one fixed
//! test key, so that stores of one test process (a live one and the fresh
//! one it is restored into) open each other's rows, as stores sharing a
//! keyring do.

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use valv_crypto::seal::Key;

use crate::{KeyOwner, RowKey, StoreResult, Vault};

#[derive(Default)]
struct TestVault {
    /// Owners asked for so far: what `owners` lists.
    seen: Mutex<BTreeSet<String>>,
}

fn label(owner: KeyOwner) -> String {
    match owner {
        KeyOwner::Provider => "provider".into(),
        KeyOwner::Tenant(t) => t.to_string(),
    }
}

#[async_trait::async_trait]
impl Vault for TestVault {
    async fn key(&self, owner: KeyOwner) -> StoreResult<Arc<RowKey>> {
        let label = label(owner);
        let data_key = Key::from_bytes([42; 32]).derive(label.as_bytes());
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).insert(label);
        Ok(Arc::new(RowKey::new(owner, &data_key)))
    }

    async fn owners(&self) -> StoreResult<Vec<KeyOwner>> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
        // The provider has a key from the start, as in a keyring.
        seen.insert(label(KeyOwner::Provider));
        seen.iter().map(|l| KeyOwner::of_chain(l)).collect()
    }
}

static VAULT: LazyLock<Arc<TestVault>> = LazyLock::new(Arc::default);

/// Makes `owner` one the vault lists, as a keyring lists a tenant from the
/// moment its key is created: before its first row is written.
pub(crate) fn register(owner: KeyOwner) {
    VAULT.seen.lock().unwrap_or_else(PoisonError::into_inner).insert(label(owner));
}

/// The test vault, for stores a test opens beside the suite's.
#[must_use]
pub fn vault() -> Arc<dyn Vault> {
    VAULT.clone()
}

/// `store`, sealing with the test vault: for stores a test opens itself.
pub fn sealed<S: crate::JournalStore>(store: S) -> S {
    store.seal_with(vault());
    store
}
