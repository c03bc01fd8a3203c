//! The keyring in use: the master key and the tenants' data keys it wraps,
//! unwrapped on first use and kept in memory after.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use valv_crypto::keyring::{check_value, matches, unwrap, wrap};
use valv_crypto::seal::Key;
use valv_domain::TenantId;
use valv_store::{Added, Hold, KeyStore};

/// Why the keyring cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(
        "the master key does not match this installation's keyring: it is the wrong key or it was altered; \
         give the master key this installation was created with"
    )]
    WrongMasterKey,
    #[error("tenant {0} has no data key (it was destroyed or never created)")]
    Missing(TenantId),
    #[error("the wrapped data key of tenant {0} is damaged")]
    Damaged(TenantId),
    #[error("tenant {0} has a data key already")]
    Exists(TenantId),
    #[error(
        "the master key was rotated while this process ran: it refuses to wrap a key under the old one; \
         start it again"
    )]
    Rotated,
    #[error("valv serve is running on this keyring: stop every server, rotate, then start them again")]
    Serving,
    #[error("a master-key rotation is running on this keyring: start when it has finished")]
    Rotating,
    #[error("the keyring changed during the rotation (a tenant was added or purged); nothing changed: rotate again")]
    Changed,
    #[error("keyring store: {0}")]
    Store(String),
}

impl From<valv_store::StoreError> for KeyringError {
    fn from(e: valv_store::StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

/// Master key plus wrapped tenant keys.
pub struct Keyring {
    store: Arc<dyn KeyStore>,
    master: Key,
    /// The stored check value `master` matched at open: every key this
    /// process wraps is stored only while it is still the current one.
    check: Vec<u8>,
    cache: RwLock<HashMap<TenantId, Key>>,
    /// The installation-wide keys (backup, provider) once read: they are
    /// never destroyed, and a rotation rewraps them without changing them,
    /// so each page's form token and each shipped segment need no store read.
    installation: RwLock<HashMap<&'static str, Key>>,
    /// The row keys derived from the data keys (`valv_store::Vault`).
    pub(crate) rows: RwLock<HashMap<valv_store::KeyOwner, Arc<valv_store::RowKey>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(redacted)")
    }
}

impl Keyring {
    /// Opens the keyring with `master`, initialising an empty one.
    ///
    /// # Errors
    /// [`KeyringError::WrongMasterKey`] when `master` did not make this keyring.
    pub async fn open(store: Arc<dyn KeyStore>, master: Key) -> Result<Self, KeyringError> {
        if store.check().await?.is_none() {
            // Two processes starting at once: the first check value stored wins.
            store.init(check_value(&master)).await?;
        }
        let check = store.check().await?.ok_or_else(|| KeyringError::Store("the check value vanished".into()))?;
        if !matches(&master, &check) {
            return Err(KeyringError::WrongMasterKey);
        }
        Ok(Self {
            store,
            master,
            check,
            cache: RwLock::default(),
            installation: RwLock::default(),
            rows: RwLock::default(),
        })
    }

    /// Stores `key` wrapped under the master key as `name`; false when
    /// `name` has a key already.
    async fn add(&self, name: &str, key: &Key) -> Result<bool, KeyringError> {
        match self.store.add_wrapped(name, wrap(&self.master, name, key), self.check.clone()).await? {
            Added::Stored => Ok(true),
            Added::Exists => Ok(false),
            Added::OtherMaster => Err(KeyringError::Rotated),
        }
    }

    /// Whether `store` was initialised already (a master key exists for it).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn initialised(store: &dyn KeyStore) -> Result<bool, KeyringError> {
        Ok(store.check().await?.is_some())
    }

    /// Creates the data key of a new tenant.
    ///
    /// # Errors
    /// `Exists` when the tenant has a key already (two imports of one archive
    /// at once); otherwise when the store fails.
    pub async fn create(&self, tenant: TenantId) -> Result<Key, KeyringError> {
        let key = Key::generate();
        if !self.add(&tenant.to_string(), &key).await? {
            return Err(KeyringError::Exists(tenant));
        }
        self.remember(tenant, &key);
        Ok(key)
    }

    /// The data key of `tenant`.
    ///
    /// # Errors
    /// When it was destroyed or is damaged.
    pub async fn key(&self, tenant: TenantId) -> Result<Key, KeyringError> {
        if let Some(k) = self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&tenant) {
            return Ok(k.clone());
        }
        let wrapped = self.store.wrapped(&tenant.to_string()).await?.ok_or(KeyringError::Missing(tenant))?;
        let key = unwrap(&self.master, &tenant.to_string(), &wrapped).map_err(|_| KeyringError::Damaged(tenant))?;
        self.remember(tenant, &key);
        Ok(key)
    }

    fn remember(&self, tenant: TenantId, key: &Key) {
        self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(tenant, key.clone());
    }

    /// The names of every key stored: tenant ids and the installation's keys.
    ///
    /// # Errors
    /// When the store fails.
    pub(crate) async fn names(&self) -> Result<Vec<String>, KeyringError> {
        Ok(self.store.tenants().await?)
    }

    /// Unwraps every tenant key; the number checked.
    ///
    /// # Errors
    /// The first key that does not unwrap.
    pub async fn verify_all(&self) -> Result<usize, KeyringError> {
        let tenants = self.store.tenants().await?;
        let mut n = 0;
        for t in tenants.iter().filter(|t| *t != BACKUP && *t != PROVIDER) {
            let id = TenantId::parse(t).map_err(|_| KeyringError::Store(format!("unknown tenant id {t}")))?;
            self.key(id).await?;
            n += 1;
        }
        Ok(n)
    }

    /// Rewraps every tenant key under `new_master` in one transaction, while
    /// holding the keyring alone. Data is not re-encrypted: the tenant keys
    /// stay the same.
    ///
    /// # Errors
    /// [`KeyringError::Serving`] while a server runs; [`KeyringError::Changed`]
    /// when a key was added or destroyed meanwhile; a key that does not
    /// unwrap under the current master.
    pub async fn rotate(&self, new_master: &Key) -> Result<usize, KeyringError> {
        let _alone = self.store.hold(Hold::Rotating).await?.ok_or(KeyringError::Serving)?;
        let mut rewrapped = Vec::new();
        for t in self.store.tenants().await? {
            let wrapped = self.store.wrapped(&t).await?.unwrap_or_default();
            let key = unwrap(&self.master, &t, &wrapped).map_err(|_| match TenantId::parse(&t) {
                Ok(id) => KeyringError::Damaged(id),
                Err(_) => KeyringError::Store(format!("the key '{t}' does not unwrap")),
            })?;
            rewrapped.push((t.clone(), wrap(new_master, &t, &key)));
        }
        // Counted as the operator thinks of them: the installation's own keys are rewrapped too.
        let n = rewrapped.iter().filter(|(t, _)| t != BACKUP && t != PROVIDER).count();
        if !self.store.rotate(self.check.clone(), check_value(new_master), rewrapped).await? {
            return Err(KeyringError::Changed);
        }
        Ok(n)
    }

    /// Destroys a tenant's data key: every copy of its data becomes unreadable.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn destroy(&self, tenant: TenantId) -> Result<(), KeyringError> {
        self.store.destroy(&tenant.to_string()).await?;
        self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&tenant);
        self.rows
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&valv_store::KeyOwner::Tenant(tenant));
        Ok(())
    }

    /// The backup key: made once, wrapped like a tenant key, so rotating the
    /// master key rewraps it and older backups stay readable.
    ///
    /// # Errors
    /// When the store fails or the key is damaged.
    pub async fn backup_key(&self) -> Result<Key, KeyringError> {
        self.installation_key(BACKUP).await
    }

    /// The provider's key, for the provider's own secrets (operators'
    /// second-factor secrets): made and kept as the backup key is.
    ///
    /// # Errors
    /// When the store fails or the key is damaged.
    pub async fn provider_key(&self) -> Result<Key, KeyringError> {
        self.installation_key(PROVIDER).await
    }

    /// An installation-wide key stored as `name` (never a tenant id), made on first use.
    async fn installation_key(&self, name: &'static str) -> Result<Key, KeyringError> {
        if let Some(k) = self.installation.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(name) {
            return Ok(k.clone());
        }
        let key = self.read_or_make(name).await?;
        self.installation.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(name, key.clone());
        Ok(key)
    }

    /// The installation-wide key `name` as stored, made and stored on first use.
    async fn read_or_make(&self, name: &'static str) -> Result<Key, KeyringError> {
        let stored = || async {
            let wrapped = self.store.wrapped(name).await?;
            wrapped
                .map(|w| unwrap(&self.master, name, &w))
                .transpose()
                .map_err(|_| KeyringError::Store(format!("the {name} key does not unwrap")))
        };
        if let Some(key) = stored().await? {
            return Ok(key);
        }
        // Several callers ask at once on a first start (every target's
        // shipper): the first key stored wins and every caller uses it.
        let key = Key::generate();
        if self.add(name, &key).await? {
            return Ok(key);
        }
        stored().await?.ok_or_else(|| KeyringError::Store(format!("the {name} key vanished while it was made")))
    }

    /// The whole keyring (check value and wrapped keys) sealed under a key
    /// derived from the master key: the one object a backup target keeps
    /// that is rewritten in place, never versioned (DESIGN.md).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn sealed_copy(&self) -> Result<Vec<u8>, KeyringError> {
        let check = self.store.check().await?.unwrap_or_default();
        let mut keys = Vec::new();
        for t in self.store.tenants().await? {
            keys.push((t.clone(), self.store.wrapped(&t).await?.unwrap_or_default()));
        }
        let plain = serde_json::to_vec(&(check, keys)).map_err(|e| KeyringError::Store(e.to_string()))?;
        Ok(copy_key(&self.master).seal(&plain, b"valv keyring copy"))
    }

    /// Writes a [`Self::sealed_copy`] into an empty key store (a restore).
    ///
    /// # Errors
    /// `WrongMasterKey` when `master` did not seal it; store failures.
    pub async fn restore_copy(store: &dyn KeyStore, master: &Key, sealed: &[u8]) -> Result<(), KeyringError> {
        let plain = copy_key(master).open(sealed, b"valv keyring copy").map_err(|_| KeyringError::WrongMasterKey)?;
        let (check, keys): (Vec<u8>, Vec<(String, Vec<u8>)>) =
            serde_json::from_slice(&plain).map_err(|e| KeyringError::Store(e.to_string()))?;
        store.init(check.clone()).await?;
        for (name, wrapped) in keys {
            store.add_wrapped(&name, wrapped, check.clone()).await?;
        }
        Ok(())
    }
}

/// Names of the installation-wide keys in the key store (never tenant ids).
pub(crate) const BACKUP: &str = "backup";
pub(crate) const PROVIDER: &str = "provider";

fn copy_key(master: &Key) -> Key {
    master.derive(b"valv keyring copy v1")
}
