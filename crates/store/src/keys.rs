//! The keyring store: wrapped tenant data keys and the master key's check
//! value. It is deliberately apart from the journal and from snapshots, and
//! rewritten in place (never versioned), so destroying a key destroys it
//! everywhere at once (DESIGN.md, Keys and erasure).

use crate::StoreResult;

/// Storage of wrapped keys.
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The master key's check value, if the keyring was initialised.
    async fn check(&self) -> StoreResult<Option<Vec<u8>>>;
    /// Initialises an empty keyring with `check`; false if one exists already.
    async fn init(&self, check: Vec<u8>) -> StoreResult<bool>;
    async fn wrapped(&self, tenant: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Stores a new key wrapped under the master key whose check value is
    /// `check`, atomically with the comparison: a process that still holds a
    /// master key rotated away cannot add a key nobody could unwrap later.
    /// Nothing changes unless [`Added::Stored`].
    async fn add_wrapped(&self, tenant: &str, wrapped: Vec<u8>, check: Vec<u8>) -> StoreResult<Added>;
    /// Every tenant with a wrapped key.
    async fn tenants(&self) -> StoreResult<Vec<String>>;
    /// Rotation: replaces the check value `from` by `to` and every wrapped
    /// key by its rewrapped form, in one transaction. False, and nothing
    /// changed, when the keyring is no longer what the caller rewrapped (its
    /// check value is not `from`, or a key was added or destroyed meanwhile):
    /// a destroyed key never comes back through a rotation.
    async fn rotate(&self, from: Vec<u8>, to: Vec<u8>, rewrapped: Vec<(String, Vec<u8>)>) -> StoreResult<bool>;
    /// Takes the keyring lock without waiting; `None` when it is taken in a
    /// way that excludes `hold`. Servers share it for as long as they run;
    /// a rotation holds it alone, so the two never interleave. Released when
    /// the [`KeyLock`] drops (or the process ends).
    async fn hold(&self, hold: Hold) -> StoreResult<Option<KeyLock>>;
    /// Destroys a tenant's key for good (crypto-shredding).
    async fn destroy(&self, tenant: &str) -> StoreResult<()>;
    /// Makes everything written durable. A keyring opened for a restore
    /// (written unsynced, like the restored data) becomes an ordinary one;
    /// for the others every write is durable already.
    async fn flush(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// What [`KeyStore::add_wrapped`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Stored,
    /// The tenant has a key already; a key in use is never replaced by accident.
    Exists,
    /// The keyring's check value is no longer the caller's: the master key
    /// was rotated since the caller opened the keyring.
    OtherMaster,
}

/// How the keyring lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Shared by every running server.
    Serving,
    /// Alone: a master-key rotation.
    Rotating,
}

/// A held keyring lock: whatever keeps it (a locked file, a database
/// session), released when dropped.
pub struct KeyLock {
    _keeper: std::sync::Mutex<Box<dyn Send>>,
}

impl KeyLock {
    /// Wraps what keeps the lock.
    pub fn new(keeper: impl Send + 'static) -> Self {
        Self { _keeper: std::sync::Mutex::new(Box::new(keeper)) }
    }
}

impl std::fmt::Debug for KeyLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyLock")
    }
}

/// Whether a rotation's `rewrapped` keys name exactly the stored `names`
/// (sorted): else a key was added or destroyed since they were read.
#[must_use]
pub fn rewraps_exactly(names: &[String], rewrapped: &[(String, Vec<u8>)]) -> bool {
    let mut theirs: Vec<&str> = rewrapped.iter().map(|(t, _)| t.as_str()).collect();
    theirs.sort_unstable();
    names.iter().map(String::as_str).eq(theirs)
}
